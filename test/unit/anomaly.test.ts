import { describe, expect, it } from "vitest";
import {
  type AnomalyConfigInput,
  AnomalyConfigSchema,
  AnomalyDetector,
  type AnomalyEvent,
} from "../../src/anomaly/index.js";
import { poissonUpperTail } from "../../src/anomaly/poisson.js";
import { mulberry32, sampleNormal } from "../../src/routing/strategies/random.js";

const MINUTE = 60_000;
// A Monday, 00:00 UTC.
const T0 = Date.parse("2026-03-02T00:00:00Z");
const HOUR = 60;
const DAY = 1440;

interface Traffic {
  /** Mean requests per minute and median cost per request at a minute (minutes from T0). */
  perMinute: (minute: number) => number;
  costUsd: (minute: number) => number;
}

interface Timed extends AnomalyEvent {
  /** Minute of the evaluation, from T0. */
  minute: number;
}

/** Poisson draws (Knuth below 30 a minute, where the count's skew matters; normal above). */
function poisson(mean: number, random: () => number): number {
  if (mean <= 0) return 0;
  if (mean >= 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * sampleNormal(random)));
  const limit = Math.exp(-mean);
  let n = 0;
  for (let p = random(); p > limit; p *= random()) n++;
  return n;
}

/** Records Poisson requests with lognormal costs for each scope, evaluating after every minute. */
function run(detector: AnomalyDetector, from: number, to: number, scopes: Record<string, Traffic>, seed = 7): Timed[] {
  const random = mulberry32(seed);
  const events: Timed[] = [];
  for (let minute = from; minute < to; minute++) {
    for (const [scope, traffic] of Object.entries(scopes)) {
      const n = poisson(traffic.perMinute(minute), random);
      for (let i = 0; i < n; i++) {
        const cost = traffic.costUsd(minute) * Math.exp(0.5 * sampleNormal(random));
        detector.record(scope, T0 + minute * MINUTE + Math.floor(random() * MINUTE), cost);
      }
    }
    for (const event of detector.evaluate(T0 + (minute + 1) * MINUTE)) events.push({ ...event, minute: minute + 1 });
  }
  return events;
}

const flat = (perMinute: number, costUsd: number): Traffic => ({ perMinute: () => perMinute, costUsd: () => costUsd });

/** 10 requests a minute at ~$0.03: about $20 an hour. */
const TEAM = flat(10, 0.03);

function spiking(base: Traffic, from: number, minutes: number, factor: number, on: "requests" | "cost" = "requests") {
  const inSpike = (m: number) => m >= from && m < from + minutes;
  return {
    perMinute: (m: number) => base.perMinute(m) * (on === "requests" && inSpike(m) ? factor : 1),
    costUsd: (m: number) => base.costUsd(m) * (on === "cost" && inSpike(m) ? factor : 1),
  };
}

const detector = (config: AnomalyConfigInput = {}, brakeOnCritical?: (scope: string) => boolean) =>
  new AnomalyDetector(brakeOnCritical ? { config, brakeOnCritical } : { config });

describe("anomaly detector", () => {
  it("raises nothing on steady traffic over days", () => {
    const events = run(detector(), 0, 3 * DAY, { "team:a": TEAM, "team:b": flat(3, 0.05) });
    expect(events).toEqual([]);
  });

  it("flags a 5x request spike within the window and clears it once back to normal", () => {
    const start = 3 * HOUR;
    const events = run(detector(), 0, start + 40, { "team:a": spiking(TEAM, start, 10, 5) });
    expect(events.map((e) => e.kind)).toEqual(["critical", "cleared"]);
    const [opened, cleared] = events as [Timed, Timed];
    expect(opened.minute - start).toBeLessThanOrEqual(5);
    expect(opened).toMatchObject({ scope: "team:a", metric: "requests", baseline: "recent", brake: false });
    expect(opened.excessUsdPerHour).toBeGreaterThan(2);
    // One anomaly: the same id on every event, closed after clear_minutes below the thresholds.
    expect(cleared.id).toBe(opened.id);
    expect(cleared.minute).toBeGreaterThan(start + 10);
  });

  it("flags a pricier model (cost per request x5) at a steady request rate", () => {
    const start = 3 * HOUR;
    const events = run(detector(), 0, start + 12, { "team:a": spiking(TEAM, start, 10, 5, "cost") });
    expect(events[0]).toMatchObject({ kind: "critical", metric: "cost_per_request" });
    expect((events[0] as Timed).minute - start).toBeLessThanOrEqual(5);
  });

  it("does not flag a spike whose excess spend is below the dollar floor", () => {
    const start = 3 * HOUR;
    const d = detector({ min_excess_usd_per_hour: 200 });
    // ~$20/h becomes ~$100/h: unusual, but $80/h over the baseline is under the $200/h floor.
    expect(run(d, 0, start + 20, { "team:a": spiking(TEAM, start, 10, 5) })).toEqual([]);
  });

  // ~1.5 requests a minute at ~$0.034: about $3 an hour, where a 5-minute window holds a handful of requests.
  const QUIET = flat(1.5, 0.03);

  it("flags a 5x request spike on a quiet scope (1.5 requests a minute) within 5 minutes", () => {
    const start = 3 * HOUR;
    const scopes: Record<string, Traffic> = {};
    for (let i = 0; i < 8; i++) scopes[`team:quiet${i}`] = spiking(QUIET, start, 10, 5);
    const opened = run(detector(), 0, start + 10, scopes).filter((e) => e.kind !== "cleared");
    for (const scope of Object.keys(scopes)) {
      const first = opened.find((e) => e.scope === scope);
      expect(first, scope).toMatchObject({ metric: "requests", baseline: "recent" });
      expect((first as Timed).minute - start, scope).toBeLessThanOrEqual(5);
    }
  });

  it("does not flag normal 2x bursts on a quiet scope, which the burst allowance absorbs", () => {
    // A 3-minute burst at twice the rate every 90 minutes, for a day.
    const bursty: Traffic = { perMinute: (m) => (m % 90 >= 30 && m % 90 < 33 ? 3 : 1.5), costUsd: () => 0.03 };
    expect(run(detector(), 0, DAY, { "team:quiet": bursty })).toEqual([]);
    // The bursts are there to see: a detector that takes any significant doubling for an anomaly alarms on them.
    const naive = detector({ burst_allowance: 1, count_alpha: 0.05, min_ratio: 2 });
    expect(run(naive, 0, DAY, { "team:quiet": bursty }).filter((e) => e.kind !== "cleared").length).toBeGreaterThan(3);
  });

  it("does not flag a huge z-score on tiny dollars", () => {
    const start = 3 * HOUR;
    const d = detector();
    const events = run(d, 0, start + 5, { "key:cheap": spiking(flat(2, 0.0001), start, 10, 20) });
    expect(events).toEqual([]);
    const [state] = d.state("key:cheap");
    expect(state?.zRequests).toBeGreaterThan(10);
    expect(state?.anomalous).toBe(false);
  });

  it("does not flag one very expensive request", () => {
    const d = detector();
    run(d, 0, 3 * HOUR, { "team:a": TEAM });
    d.record("team:a", T0 + 3 * HOUR * MINUTE + 1000, 25);
    const events = run(d, 3 * HOUR, 3 * HOUR + 10, { "team:a": TEAM }, 8);
    expect(events).toEqual([]);
  });

  it("escalates a sustained anomaly to critical once, after sustain_minutes", () => {
    const start = 3 * HOUR;
    const d = detector({ critical_z: 1e9, critical_excess_usd_per_hour: 1e9, sustain_minutes: 15 });
    const events = run(d, 0, start + 30, { "team:a": spiking(TEAM, start, 60, 5) });
    expect(events.map((e) => e.kind)).toEqual(["warning", "critical"]);
    const [warning, critical] = events as [Timed, Timed];
    expect(critical.minute - warning.minute).toBe(14);
    expect(critical).toMatchObject({ id: warning.id, level: "critical", startedAt: warning.startedAt });
    expect(d.state("team:a")[0]).toMatchObject({ level: "critical", anomalous: true, startedAt: warning.startedAt });
  });

  it("asks for the brake on critical anomalies only where configured", () => {
    const start = 3 * HOUR;
    const traffic = { "team:a": spiking(TEAM, start, 10, 8), "team:b": spiking(TEAM, start, 10, 8) };
    const brakes = (d: AnomalyDetector) =>
      run(d, 0, start + 8, traffic)
        .filter((e) => e.kind === "critical")
        .map((e) => [e.scope, e.brake]);
    expect(brakes(detector())).toEqual([
      ["team:a", false],
      ["team:b", false],
    ]);
    expect(brakes(detector({ brake_on_critical: true }))).toEqual([
      ["team:a", true],
      ["team:b", true],
    ]);
    expect(brakes(detector({ brake_on_critical: true }, (scope) => scope === "team:b"))).toEqual([
      ["team:a", false],
      ["team:b", true],
    ]);
    // A warning never brakes.
    const warnings = run(
      detector({ brake_on_critical: true, critical_z: 1e9, critical_excess_usd_per_hour: 1e9 }),
      0,
      start + 8,
      traffic,
    );
    expect(warnings.map((e) => [e.kind, e.brake])).toEqual([
      ["warning", false],
      ["warning", false],
    ]);
  });

  it("learns a nightly job from past days and weeks and stops flagging it, but not a spike at another hour", () => {
    // A business-hours team with a 30-minute batch at 02:00 that is 5x the night rate.
    const team: Traffic = {
      perMinute: (m) => {
        const hour = (m % DAY) / 60;
        const batch = m % DAY >= 120 && m % DAY < 150 ? 20 : 0;
        return (hour >= 9 && hour < 18 ? 20 : 5) + batch;
      },
      costUsd: () => 0.03,
    };
    const spikeAt = 21 * DAY + 4 * HOUR;
    const events = run(detector(), 0, 22 * DAY, { "team:a": spiking(team, spikeAt, 10, 5) });
    const opened = events.filter((e) => e.kind !== "cleared");
    // Without history the first nights' batch (and the first mornings) look anomalous; then it is learned.
    expect(opened.filter((e) => e.minute >= 7 * DAY && e.minute < spikeAt)).toEqual([]);
    const spike = opened.filter((e) => e.minute >= spikeAt);
    expect(spike).toHaveLength(1);
    expect(spike[0]).toMatchObject({ baseline: "week" });
    expect((spike[0] as Timed).minute - spikeAt).toBeLessThanOrEqual(5);
  });

  it("judges nothing until a new scope has recent_minutes of history", () => {
    const d = detector();
    const events = run(d, 0, 50, { "team:new": spiking(TEAM, 30, 20, 10) });
    expect(events).toEqual([]);
    expect(d.state("team:new")[0]).toMatchObject({ baseline: "none", level: "none" });
  });

  it("keeps at most max_scopes, forgetting the least recently active", () => {
    const d = detector({ max_scopes: 50 });
    for (let i = 0; i < 5000; i++) d.record(`key:${i}`, T0 + i * 1000, 0.01);
    d.record("key:4950", T0 + 5000 * 1000, 0.01);
    d.record("key:9999", T0 + 5001 * 1000, 0.01);
    expect(d.scopeCount).toBe(50);
    expect(d.state()).toHaveLength(50);
    expect(d.state("key:0")).toEqual([]);
    expect(d.state("key:4950")).toHaveLength(1);
    expect(d.state("key:9999")).toHaveLength(1);
    expect(d.evaluate(T0 + 6000 * 1000)).toEqual([]);
  });

  it("is idempotent within a minute and does nothing when disabled", () => {
    const d = detector();
    const start = 3 * HOUR;
    run(d, 0, start + 6, { "team:a": spiking(TEAM, start, 10, 5) });
    expect(d.evaluate(T0 + (start + 6) * MINUTE + 30_000)).toEqual([]);
    const off = detector({ enabled: false });
    expect(run(off, 0, start + 6, { "team:a": spiking(TEAM, start, 10, 5) })).toEqual([]);
    expect(off.scopeCount).toBe(0);
  });
});

describe("poissonUpperTail", () => {
  it("matches the Poisson upper tail, and calls a count at or below the mean no evidence", () => {
    // Reference values from scipy.stats.poisson.sf(n - 1, mean).
    expect(poissonUpperTail(23, 15)).toBeCloseTo(0.0327444, 6);
    expect(poissonUpperTail(6, 0.75) / 1.3055446e-4).toBeCloseTo(1, 6);
    expect(poissonUpperTail(30, 7.5) / 4.8971145e-10).toBeCloseTo(1, 6);
    expect(poissonUpperTail(700, 600) / 3.6922869e-5).toBeCloseTo(1, 5);
    expect(poissonUpperTail(40, 40)).toBe(1);
    expect(poissonUpperTail(3, 0)).toBe(0);
  });
});

describe("anomaly config", () => {
  it("fills the defaults", () => {
    expect(AnomalyConfigSchema.parse({})).toMatchObject({
      enabled: true,
      window_minutes: 5,
      z_threshold: 3.5,
      min_ratio: 3,
      burst_allowance: 1.5,
      count_alpha: 0.0005,
      min_excess_usd_per_hour: 2,
      brake_on_critical: false,
      timezone: "UTC",
    });
  });

  it("rejects slots that do not divide a day, unknown time zones and unknown keys", () => {
    expect(AnomalyConfigSchema.safeParse({ slot_minutes: 7 }).success).toBe(false);
    expect(AnomalyConfigSchema.safeParse({ timezone: "Mars/Olympus" }).success).toBe(false);
    expect(AnomalyConfigSchema.safeParse({ window: 3 }).success).toBe(false);
    expect(AnomalyConfigSchema.safeParse({ timezone: "Europe/Paris", slot_minutes: 30 }).success).toBe(true);
  });

  it("follows the configured time zone's days", () => {
    // Same traffic, read in Tokyo time: still learned, still quiet.
    const events = run(detector({ timezone: "Asia/Tokyo" }), 0, 2 * DAY, { "team:a": TEAM });
    expect(events).toEqual([]);
  });
});
