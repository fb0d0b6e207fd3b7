// Spend forecast evaluation: synthetic daily spend (fixed seeds), rolling 7-day-ahead forecasts over the last 8
// weeks of each 120-day series, MAPE per method and for the served choice. `npx tsx bench/eval-forecast.ts`
// (npm run eval:forecast). Target: served MAPE <= 12% on the seasonal series. Nothing in src/forecast was tuned
// on these seeds: the models choose their own parameters (grid search, backtest) per series.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { addDays, type DailyPoint, type ForecastMethod, forecastDaily, forecastWith } from "../src/forecast/index.js";
import { mulberry32 } from "../src/routing/strategies/index.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DAYS = 120;
const HORIZON = 7;
/** Origins: every day whose 7-day window ends inside the series, over its last 8 weeks. */
const FIRST_ORIGIN = DAYS - 8 * 7;
const SEEDS = [1, 2, 3, 4, 5, 6];
const TARGET_MAPE = 0.12;

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Weekday spend relative to the week's mean: busy working days, quiet weekends. */
const WEEK = [1.2, 1.25, 1.2, 1.15, 1.05, 0.6, 0.55];

type SeriesType = "seasonal" | "trend" | "step" | "flat_noisy";
const TYPES: SeriesType[] = ["seasonal", "trend", "step", "flat_noisy"];

/** Daily spend: level × trend × weekday × (1 + noise), never below 0. */
function generate(type: SeriesType, seed: number): number[] {
  const rand = mulberry32(seed * 7919 + TYPES.indexOf(type));
  const level = 20 + 180 * rand();
  const firstWeekday = Math.floor(rand() * 7);
  const growth = (rand() * 2 - 0.5) * 0.006; // -0.3% .. +0.9% of the start level per day
  const stepAt = 50 + Math.floor(rand() * 50);
  const stepBy = rand() < 0.5 ? 0.6 : 1.6;
  const y: number[] = [];
  for (let t = 0; t < DAYS; t++) {
    let mean = level;
    let noise = 0.08;
    if (type === "seasonal") mean = level * (1 + growth * t) * (WEEK[(firstWeekday + t) % 7] ?? 1);
    if (type === "trend") mean = level * (1 + growth * t);
    if (type === "step" && t >= stepAt) mean = level * stepBy;
    if (type === "flat_noisy") noise = 0.2;
    y.push(Math.max(0, mean * (1 + noise * gaussian(rand))));
  }
  return y;
}

const METHODS: ForecastMethod[] = ["seasonal_naive", "linear", "holt_winters", "ensemble", "run_rate"];

interface Accumulator {
  ape: Record<ForecastMethod | "served", number[]>;
  served: Partial<Record<ForecastMethod, number>>;
  dailyInBand: number[];
  weekInBand: number[];
}

function accumulator(): Accumulator {
  const ape = { served: [] } as unknown as Accumulator["ape"];
  for (const m of METHODS) ape[m] = [];
  return { ape, served: {}, dailyInBand: [], weekInBand: [] };
}

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
const percent = (v: number): string => `${(v * 100).toFixed(1)}%`;

const start = performance.now();
const results = new Map<SeriesType, Accumulator>();
for (const type of TYPES) {
  const acc = accumulator();
  results.set(type, acc);
  for (const seed of SEEDS) {
    const y = generate(type, seed);
    const points: DailyPoint[] = y.map((usd, i) => ({ day: addDays("2026-01-01", i), usd }));
    for (let origin = FIRST_ORIGIN; origin + HORIZON <= DAYS; origin++) {
      const actual = y.slice(origin, origin + HORIZON);
      const record = (key: ForecastMethod | "served", forecast: readonly number[]) => {
        actual.forEach((a, h) => {
          if (a > 0) acc.ape[key].push(Math.abs(a - (forecast[h] ?? 0)) / a);
        });
      };
      for (const m of METHODS) record(m, forecastWith(m, y.slice(0, origin), HORIZON));
      const served = forecastDaily(points.slice(0, origin), HORIZON);
      record(
        "served",
        served.days.map((d) => d.usd),
      );
      acc.served[served.method] = (acc.served[served.method] ?? 0) + 1;
      served.days.forEach((d, h) => {
        const a = actual[h] ?? 0;
        acc.dailyInBand.push(a >= d.low && a <= d.high ? 1 : 0);
      });
      const week = served.days[HORIZON - 1];
      const weekActual = actual.reduce((a, b) => a + b, 0);
      if (week) acc.weekInBand.push(weekActual >= (week.cumLow ?? 0) && weekActual <= (week.cumHigh ?? 0) ? 1 : 0);
    }
  }
}
const elapsedS = (performance.now() - start) / 1000;

const rows = TYPES.map((type) => {
  const acc = results.get(type) as Accumulator;
  const mape = Object.fromEntries([...METHODS, "served"].map((m) => [m, mean(acc.ape[m as ForecastMethod])]));
  return {
    type,
    series: SEEDS.length,
    forecasts: acc.dailyInBand.length / HORIZON,
    mape: mape as Record<ForecastMethod | "served", number>,
    servedMethods: acc.served,
    dailyBandCoverage: mean(acc.dailyInBand),
    weekBandCoverage: mean(acc.weekInBand),
  };
});

console.log(
  `Spend forecasts: ${SEEDS.length} seeds x ${TYPES.length} series types, ${DAYS} days each, 7-day-ahead from every day of the last 8 weeks (${elapsedS.toFixed(1)} s)\n`,
);
console.table(
  rows.map((r) => ({
    series: r.type,
    "seasonal naive": percent(r.mape.seasonal_naive),
    linear: percent(r.mape.linear),
    "holt-winters": percent(r.mape.holt_winters),
    ensemble: percent(r.mape.ensemble),
    "run rate": percent(r.mape.run_rate),
    served: percent(r.mape.served),
    "80% band, day": percent(r.dailyBandCoverage),
    "80% band, week sum": percent(r.weekBandCoverage),
  })),
);
for (const r of rows) {
  const mix = Object.entries(r.servedMethods)
    .map(([m, n]) => `${m} ${n}`)
    .join(", ");
  console.log(`  ${r.type}: served ${mix}`);
}

const seasonal = rows.find((r) => r.type === "seasonal");
const servedSeasonal = seasonal?.mape.served ?? Number.NaN;
const targets = [
  {
    target: `served MAPE <= ${percent(TARGET_MAPE)} on the seasonal series`,
    pass: servedSeasonal <= TARGET_MAPE,
    value: percent(servedSeasonal),
  },
];
console.log("");
for (const t of targets) console.log(`${t.pass ? "PASS" : "FAIL"}  ${t.target} (${t.value})`);

const file = resolve(ROOT, "bench/results", `forecast-${new Date().toISOString().replace(/:/g, "-")}.json`);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(
  file,
  `${JSON.stringify({ days: DAYS, horizon: HORIZON, seeds: SEEDS, weekPattern: WEEK, rows, targets, elapsedS }, null, 2)}\n`,
);
console.log(`\nwrote ${file}`);
if (targets.some((t) => !t.pass)) process.exitCode = 1;
