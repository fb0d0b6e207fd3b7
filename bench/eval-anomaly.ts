// Spend anomaly evaluation by injection: simulated per-minute traffic for four scopes (3 weeks of warm-up the
// detector learns from, then 4 scored weeks per seed), with 5x spend spikes of 10 minutes and runaway loops injected
// in the scored weeks. `npx tsx bench/eval-anomaly.ts [--seeds 1,2,3,4,5] [--set key=value ...]` (npm run
// eval:anomaly). Targets: every 5x spike detected within 5 simulated minutes; <= 1 false alarm per simulated week
// (all scopes together).
//
// The world: weekday business hours (UTC) with a lunch dip, quiet nights, weekends at ~1/3; Poisson requests with
// lognormal costs; organic drift (a day factor, and an AR(1) within the day, each ~12%); 1.5-2x bursts of 2-6
// minutes, ~3 a day per scope; a nightly batch job (~5x the night rate for 30 minutes at 02:00 +- 3) and an hourly
// cron (2x for 3 minutes). Spikes: 12 per seed on the three busier scopes, 4 in business hours, 4 at weekday nights,
// 4 on weekends; half run the request rate at 5x the scope's usual rate for that minute, half multiply the cost of
// every request by 5 (a pricier model). A loop adds requests ramping to 10x the usual rate over 15 minutes and runs
// until a minute after it is detected (someone, or the brake, stops it) or 12 hours. The control spikes (5x on a
// scope spending ~$0.1/h) sit below the dollar floor and must not alarm.
// Detection delay = the first evaluation (each whole minute) at which the detector judges the scope anomalous,
// minus the incident's start (an alarm already open then was counted as false when it opened, and is not re-sent).
// A false alarm is an anomaly opened outside every incident (and the 15 minutes after it) in the scored weeks.
//
// How the defaults were chosen: on seeds 101-110 only (window 3/4/5, min_ratio 2.5/3, z 3.5/4, jitter 5/10, slot 10/15;
// then the request-count test: burst_allowance 1-2, count_alpha 1e-4 to 1e-2, min_ratio 3-3.5, and trailing windows of
// 1-4 minutes beside the 5, which raised false alarms 1.6-4.8x, mostly etl-bot's hourly cron plus a burst, and caught
// no 5x spike within 5 minutes that the 5-minute window missed, though runaway loops 1-2 minutes sooner); the reported
// seeds 1-5 were run once after that. Measured on 101-110: 118/120 spikes within 5 minutes, 0.68 false alarms a week;
// on 1-5: 60/60 (worst 5 minutes) and 0.75. The two late ones on 101-110 look unfixable without more false alarms: on
// seed 101 a request spike on team:support starting as its nightly batch ends (at the batch's rate, so it looks like
// the batch running late; schedule_jitter_minutes 5 catches it at 6 minutes but nearly doubles false alarms), and on
// seed 107 a cost spike that drew 4 requests in its first 5 minutes. The earlier rule (request count discounted one
// standard error, cost MAD from overlapping windows) measured 115/120 and 0.35 on 101-110, 57/60 and 0.50 on 1-5.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type AnomalyConfigInput, AnomalyDetector, type AnomalyEvent } from "../src/anomaly/index.js";
import { mulberry32, sampleNormal } from "../src/routing/strategies/random.js";
import type { RandomSource } from "../src/routing/strategies/types.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MINUTE_MS = 60_000;
const DAY = 1440;
const START_MS = Date.parse("2026-01-05T00:00:00Z"); // a Monday
const WARMUP_DAYS = 21;
const SCORED_DAYS = 28;
const WEEKS = SCORED_DAYS / 7;
const SCORED_FROM = WARMUP_DAYS * DAY;
const TOTAL = (WARMUP_DAYS + SCORED_DAYS) * DAY;
// An alarm this long after an incident ends still belongs to it.
const ATTRIBUTION_MINUTES = 15;

interface ScopeModel {
  scope: string;
  /** Requests per minute at the weekday peak; nights and weekends as shares of the business-hours part. */
  peakPerMinute: number;
  nightPerMinute: number;
  weekendShare: number;
  costMedianUsd: number;
  costSigma: number;
  batch?: { minuteOfDay: number; minutes: number; perMinute: number };
  cron?: { minutes: number; factor: number };
}

const SCOPES: ScopeModel[] = [
  { scope: "team:search", peakPerMinute: 40, nightPerMinute: 3, weekendShare: 0.3, costMedianUsd: 0.02, costSigma: 1 },
  {
    scope: "team:support",
    peakPerMinute: 12,
    nightPerMinute: 1.5,
    weekendShare: 0.35,
    costMedianUsd: 0.015,
    costSigma: 0.8,
    batch: { minuteOfDay: 120, minutes: 30, perMinute: 6 },
  },
  {
    scope: "key:etl-bot",
    peakPerMinute: 3,
    nightPerMinute: 3,
    weekendShare: 1,
    costMedianUsd: 0.03,
    costSigma: 0.5,
    cron: { minutes: 3, factor: 2 },
  },
  {
    scope: "key:intern",
    peakPerMinute: 0.4,
    nightPerMinute: 0,
    weekendShare: 0.1,
    costMedianUsd: 0.004,
    costSigma: 0.7,
  },
];
const CONTROL_SCOPE = "key:intern";

type IncidentKind = "spike-requests" | "spike-cost" | "loop" | "control";

interface Incident {
  scope: string;
  kind: IncidentKind;
  when: "business" | "night" | "weekend";
  start: number;
  /** Last minute affected (exclusive); a loop's end is set when it is stopped. */
  end: number;
  detectedAt?: number;
  criticalAt?: number;
  brake?: boolean;
}

function smoothstep(a: number, b: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - a) / (b - a)));
  return t * t * (3 - 2 * t);
}

/** 0 at night, 1 in business hours (UTC), a lunch dip. */
function businessShape(hour: number): number {
  const up = smoothstep(7, 9.5, hour);
  const down = 1 - smoothstep(17, 21, hour);
  const lunch = 1 - 0.2 * smoothstep(11.5, 12.25, hour) * (1 - smoothstep(13, 13.75, hour));
  return up * down * lunch;
}

const weekdayOf = (minute: number) => (Math.floor((START_MS / MINUTE_MS + minute) / DAY) + 4) % 7; // 0 = Sunday
const isWeekend = (minute: number) => weekdayOf(minute) === 0 || weekdayOf(minute) === 6;

function poisson(lambda: number, random: RandomSource): number {
  if (lambda <= 0) return 0;
  if (lambda > 40) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * sampleNormal(random)));
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/** Incidents at random minutes of the scored weeks, at least 6 hours from any other on the same scope. */
function drawIncidents(random: RandomSource): Incident[] {
  const incidents: Incident[] = [];
  const place = (scope: string, kind: IncidentKind, when: Incident["when"], minutes: number) => {
    for (;;) {
      const start = SCORED_FROM + Math.floor(random() * (SCORED_DAYS * DAY - DAY));
      const hour = (start % DAY) / 60;
      const fits =
        when === "weekend"
          ? isWeekend(start)
          : !isWeekend(start) && (when === "business" ? hour >= 9 && hour < 17 : hour < 6);
      const clear = incidents.every((o) => o.scope !== scope || Math.abs(o.start - start) > 6 * 60);
      if (fits && clear) {
        incidents.push({ scope, kind, when, start, end: start + minutes });
        return;
      }
    }
  };
  const spikeScopes = ["team:search", "team:support", "key:etl-bot"];
  const whens = ["business", "night", "weekend"] as const;
  for (let i = 0; i < 12; i++) {
    const kind = i % 2 === 0 ? "spike-requests" : "spike-cost";
    place(spikeScopes[i % 3] as string, kind, whens[Math.floor(i / 4)] as Incident["when"], 10);
  }
  place("team:support", "loop", "business", 12 * 60);
  place("key:etl-bot", "loop", "night", 12 * 60);
  place(CONTROL_SCOPE, "control", "business", 10);
  place(CONTROL_SCOPE, "control", "business", 10);
  return incidents.sort((a, b) => a.start - b.start);
}

interface SeedResult {
  seed: number;
  incidents: Incident[];
  falseAlarms: (Pick<AnomalyEvent, "scope" | "at" | "level" | "metric" | "baseline" | "zScore" | "multiple"> & {
    spendUsdPerHour: number;
    baselineUsdPerHour: number;
    requestsPerMinute: number;
    baselineRequestsPerMinute: number;
  })[];
  warmupAlarms: number;
}

function simulate(seed: number, config: AnomalyConfigInput): SeedResult {
  const random = mulberry32(seed);
  const incidents = drawIncidents(mulberry32(seed ^ 0x5eed));
  const loopBrakeScope = "key:etl-bot";
  const detector = new AnomalyDetector({ config, brakeOnCritical: (scope) => scope === loopBrakeScope });
  const drift = new Map(SCOPES.map((m) => [m.scope, 0]));
  const dayFactor = new Map(SCOPES.map((m) => [m.scope, 1]));
  const bursts = new Map<string, { until: number; factor: number }>();
  const batchStart = new Map<string, number>();
  const opened = new Set<string>();
  const falseAlarms: SeedResult["falseAlarms"] = [];
  let warmupAlarms = 0;

  for (let minute = 0; minute < TOTAL; minute++) {
    const minuteOfDay = minute % DAY;
    const hour = minuteOfDay / 60;
    const weekend = isWeekend(minute);
    for (const model of SCOPES) {
      const { scope } = model;
      if (minuteOfDay === 0) {
        dayFactor.set(scope, Math.exp(0.12 * sampleNormal(random)));
        if (model.batch) batchStart.set(scope, model.batch.minuteOfDay + Math.floor(random() * 7) - 3);
      }
      // Organic drift: AR(1) on the log rate, ~0.12 standard deviation, ~50-minute memory.
      const d = 0.98 * (drift.get(scope) as number) + 0.024 * sampleNormal(random);
      drift.set(scope, d);
      if (random() < 3 / DAY) {
        bursts.set(scope, { until: minute + 2 + Math.floor(random() * 5), factor: 1.5 + 0.5 * random() });
      }
      const business = model.peakPerMinute - model.nightPerMinute;
      // usual: this minute of the week without the day's luck; rate: what it is today.
      let usual = model.nightPerMinute + business * businessShape(hour) * (weekend ? model.weekendShare : 1);
      let rate = usual * (dayFactor.get(scope) as number) * Math.exp(d);
      const burst = bursts.get(scope);
      if (burst && minute < burst.until) rate *= burst.factor;
      if (model.cron && minute % 60 < model.cron.minutes) {
        rate *= model.cron.factor;
        usual *= model.cron.factor;
      }
      const batch = model.batch;
      const batchAt = batchStart.get(scope);
      if (batch && batchAt !== undefined && minuteOfDay >= batchAt && minuteOfDay < batchAt + batch.minutes) {
        rate += batch.perMinute;
        usual += batch.perMinute;
      }
      let costFactor = 1;
      let loop = 0;
      for (const incident of incidents) {
        if (incident.scope !== scope || minute < incident.start || minute >= incident.end) continue;
        if (incident.kind === "spike-cost") costFactor = 5;
        else if (incident.kind === "loop") loop = 10 * usual * Math.min(1, (minute - incident.start + 1) / 15);
        else rate = 5 * usual;
      }
      const n = poisson(rate + loop, random);
      const minuteMs = START_MS + minute * MINUTE_MS;
      for (let i = 0; i < n; i++) {
        const cost = model.costMedianUsd * Math.exp(model.costSigma * sampleNormal(random)) * costFactor;
        detector.record(scope, minuteMs + Math.floor(random() * MINUTE_MS), cost);
      }
    }
    const now = START_MS + (minute + 1) * MINUTE_MS;
    const at = minute + 1;
    const incidentAt = (scope: string) =>
      incidents.find((i) => i.scope === scope && at >= i.start && at <= i.end + ATTRIBUTION_MINUTES);
    for (const event of detector.evaluate(now)) {
      const incident = incidentAt(event.scope);
      if (incident && event.kind === "critical" && incident.criticalAt === undefined) {
        incident.criticalAt = at;
        incident.brake = event.brake;
      }
      if (event.kind === "cleared" || opened.has(event.id)) continue;
      opened.add(event.id);
      if (incident) continue;
      if (minute < SCORED_FROM) {
        warmupAlarms++;
        continue;
      }
      const { scope, level, metric, baseline, zScore, multiple } = event;
      falseAlarms.push({
        scope,
        at: event.at,
        level,
        metric,
        baseline,
        zScore: round(zScore),
        multiple: round(multiple),
        spendUsdPerHour: round(event.spendUsdPerHour),
        baselineUsdPerHour: round(event.baselineUsdPerHour),
        requestsPerMinute: round(event.requestsPerMinute),
        baselineRequestsPerMinute: round(event.baselineRequestsPerMinute),
      });
    }
    // Detected when the scope is judged anomalous during the incident (an alarm already open counts: it was sent).
    for (const incident of incidents) {
      if (incident.detectedAt !== undefined || at < incident.start || at > incident.end + ATTRIBUTION_MINUTES) continue;
      if (!detector.state(incident.scope)[0]?.anomalous) continue;
      incident.detectedAt = at;
      // Someone (or the brake) stops a loop a minute after the alarm.
      if (incident.kind === "loop") incident.end = Math.min(incident.end, at + 1);
    }
  }
  return { seed, incidents, falseAlarms, warmupAlarms };
}

function parseArgs(): { seeds: number[]; config: Record<string, number | boolean | string> } {
  const args = process.argv.slice(2);
  const seedsAt = args.indexOf("--seeds");
  const seeds = seedsAt >= 0 ? (args[seedsAt + 1] ?? "").split(",").map(Number) : [1, 2, 3, 4, 5];
  const config: Record<string, number | boolean | string> = {};
  args.forEach((arg, i) => {
    if (arg !== "--set") return;
    const [key, value] = (args[i + 1] ?? "").split("=");
    if (key === undefined || value === undefined) return;
    config[key] =
      value === "true" || value === "false" ? value === "true" : Number.isNaN(Number(value)) ? value : Number(value);
  });
  return { seeds, config };
}

const round = (x: number) => Math.round(x * 100) / 100;
const iso = (minute: number) => new Date(START_MS + minute * MINUTE_MS).toISOString().slice(0, 16).replace("T", " ");
const { seeds, config } = parseArgs();
const overrides = config as AnomalyConfigInput;
const results = seeds.map((seed) => simulate(seed, overrides));
const effective = new AnomalyDetector({ config: overrides }).config;

const incidentRows = results.flatMap((r) =>
  r.incidents.map((i) => {
    const delay = i.detectedAt === undefined ? undefined : i.detectedAt - i.start;
    return {
      seed: r.seed,
      scope: i.scope,
      kind: i.kind,
      when: i.when,
      start: iso(i.start),
      delayMin: delay,
      criticalAfterMin: i.criticalAt === undefined ? undefined : i.criticalAt - i.start,
      brake: i.brake ?? false,
      result:
        i.kind === "control"
          ? delay === undefined
            ? "not flagged (below floor, correct)"
            : "FLAGGED (below floor)"
          : delay === undefined
            ? "MISSED"
            : i.kind !== "loop" && delay > 5
              ? "LATE"
              : "detected",
    };
  }),
);

console.log(
  `\nSpend anomaly evaluation: seeds ${seeds.join(",")}, ${WARMUP_DAYS} days warm-up + ${SCORED_DAYS} scored days each\n`,
);
console.table(
  incidentRows.map((r) => ({
    seed: r.seed,
    scope: r.scope,
    incident: r.kind,
    when: `${r.when} ${r.start}`,
    "delay (min)": r.delayMin ?? "-",
    "critical (min)": r.criticalAfterMin ?? "-",
    brake: r.brake,
    result: r.result,
  })),
);

const scoredWeeks = WEEKS * seeds.length;
const falseRows = SCOPES.map((m) => {
  const count = results.reduce((n, r) => n + r.falseAlarms.filter((f) => f.scope === m.scope).length, 0);
  return { scope: m.scope, "false alarms": count, "per week": count / scoredWeeks };
});
const totalFalse = falseRows.reduce((n, r) => n + r["false alarms"], 0);
falseRows.push({ scope: "all scopes", "false alarms": totalFalse, "per week": totalFalse / scoredWeeks });
console.log(`False alarms over ${scoredWeeks} scored weeks (${WEEKS} per seed):`);
console.table(falseRows.map((r) => ({ ...r, "per week": r["per week"].toFixed(2) })));
for (const r of results) {
  const list = r.falseAlarms.map((f) => `${f.scope} ${iso((f.at - START_MS) / MINUTE_MS)} ${f.level}`).join("; ");
  console.log(`  seed ${r.seed}: ${r.falseAlarms.length} false, ${r.warmupAlarms} during warm-up. ${list}`);
}

const spikes = incidentRows.filter((r) => r.kind.startsWith("spike"));
const loops = incidentRows.filter((r) => r.kind === "loop");
const controls = incidentRows.filter((r) => r.kind === "control");
const worstOf = (rows: typeof incidentRows) =>
  rows.some((r) => r.delayMin === undefined) ? "MISSED" : `${Math.max(...rows.map((r) => r.delayMin ?? 0))} min`;
const targets = [
  {
    target: "every 5x spike detected within 5 minutes",
    pass: spikes.every((r) => r.delayMin !== undefined && r.delayMin <= 5),
    value: `${spikes.filter((r) => r.delayMin !== undefined && r.delayMin <= 5).length}/${spikes.length}, worst ${worstOf(spikes)}`,
  },
  {
    target: "<= 1 false alarm per simulated week (all scopes together)",
    pass: totalFalse / scoredWeeks <= 1,
    value: `${(totalFalse / scoredWeeks).toFixed(2)} per week`,
  },
];
const delays = (rows: typeof incidentRows) => {
  const values = rows.map((r) => r.delayMin ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const within = values.filter((v) => v <= 5).length;
  return { spikes: rows.length, "within 5 min": within, median: values[values.length >> 1], worst: worstOf(rows) };
};
console.log("Spike detection delay (min) by kind and time:");
console.table(
  ["spike-requests", "spike-cost"].flatMap((kind) =>
    (["business", "night", "weekend"] as const).map((when) => ({
      kind,
      when,
      ...delays(spikes.filter((r) => r.kind === kind && r.when === when)),
    })),
  ),
);
const loopValue = loops.map((r) => r.delayMin ?? "MISSED").join(", ");
const controlValue = controls.filter((r) => r.delayMin === undefined).length;
console.log(
  `\nrunaway loops detected after ${loopValue} min; controls below the floor not flagged: ${controlValue}/${controls.length}`,
);
for (const t of targets) console.log(`${t.pass ? "PASS" : "FAIL"}  ${t.target} (${t.value})`);

const file = resolve(ROOT, "bench/results", `anomaly-${new Date().toISOString().replace(/:/g, "-")}.json`);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(
  file,
  `${JSON.stringify(
    {
      seeds,
      warmupDays: WARMUP_DAYS,
      scoredDays: SCORED_DAYS,
      config: effective,
      scopes: SCOPES,
      incidents: incidentRows,
      falseAlarms: falseRows,
      falseAlarmList: results.map((r) => ({ seed: r.seed, warmupAlarms: r.warmupAlarms, alarms: r.falseAlarms })),
      targets,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${file}`);
if (targets.some((t) => !t.pass)) process.exitCode = 1;
