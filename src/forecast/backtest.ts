import type { Model } from "./models.js";

/** A backtest origin: fit on y[0, origin), forecast y[origin, origin + horizon). */
export interface Origin {
  origin: number;
  horizon: number;
}

export interface BacktestOptions {
  /** Days forecast from each origin. */
  horizon: number;
  /** At most this many origins, the most recent. */
  maxOrigins: number;
  /** Fewest days a model is fitted on. */
  minTrain: number;
}

/**
 * Rolling origins over the end of a series of `n` days: the latest `maxOrigins` whose whole horizon is observed,
 * or, for a series too short for one, every origin from `minTrain` with what horizon remains.
 */
export function rollingOrigins(n: number, o: BacktestOptions): Origin[] {
  const last = n - o.horizon;
  const out: Origin[] = [];
  if (last >= o.minTrain) {
    for (let origin = Math.max(o.minTrain, last - o.maxOrigins + 1); origin <= last; origin++) {
      out.push({ origin, horizon: o.horizon });
    }
    return out;
  }
  for (let origin = o.minTrain; origin < n; origin++) out.push({ origin, horizon: n - origin });
  return out;
}

/** The model's forecasts (clamped at 0: spend is never negative) from each origin. */
export function backtestModel(y: readonly number[], model: Model, origins: readonly Origin[]): number[][] {
  return origins.map(({ origin, horizon }) => model(y.slice(0, origin), horizon).map(nonNegative));
}

export const nonNegative = (v: number): number => Math.max(v, 0);

/**
 * Mean absolute percentage error over every forecast day. Days with no actual spend are left out: their
 * percentage is undefined. NaN when no day had spend.
 */
export function mape(y: readonly number[], origins: readonly Origin[], forecasts: readonly number[][]): number {
  let sum = 0;
  let count = 0;
  origins.forEach(({ origin }, i) => {
    const f = forecasts[i] ?? [];
    f.forEach((value, h) => {
      const actual = y[origin + h] ?? 0;
      if (actual <= 0) return;
      sum += Math.abs(actual - value) / actual;
      count++;
    });
  });
  return count === 0 ? Number.NaN : sum / count;
}

/** Actual over forecast, per day and for running sums, from each origin: what the prediction band is built from. */
export interface ErrorRatios {
  /** Actual / forecast for every forecast day with a positive forecast, all horizons pooled. */
  daily: number[];
  /** cumulative[k - 1]: sum of the first k actual days / sum of the first k forecast days, one per origin. */
  cumulative: number[][];
}

export function errorRatios(
  y: readonly number[],
  origins: readonly Origin[],
  forecasts: readonly number[][],
): ErrorRatios {
  const daily: number[] = [];
  const cumulative: number[][] = [];
  origins.forEach(({ origin }, i) => {
    let actualSum = 0;
    let forecastSum = 0;
    (forecasts[i] ?? []).forEach((value, h) => {
      const actual = y[origin + h] ?? 0;
      if (value > 0) daily.push(actual / value);
      actualSum += actual;
      forecastSum += value;
      if (forecastSum <= 0) return;
      let bucket = cumulative[h];
      if (!bucket) {
        bucket = [];
        cumulative[h] = bucket;
      }
      bucket.push(actualSum / forecastSum);
    });
  });
  return { daily, cumulative };
}

/** The q-quantile (0..1) of `values` by linear interpolation; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[Math.min(sorted.length - 1, lo + 1)] ?? a;
  return a + (b - a) * (pos - lo);
}
