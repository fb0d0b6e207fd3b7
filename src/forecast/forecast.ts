import {
  backtestModel,
  type ErrorRatios,
  errorRatios,
  mape,
  nonNegative,
  quantile,
  rollingOrigins,
} from "./backtest.js";
import { holtWinters, linearTrend, type Model, runRate, SEASON, seasonalNaive } from "./models.js";
import type { DailyPoint, ForecastDay, ForecastMethod, SpendForecast } from "./types.js";

/** Under two weeks there is no weekly season to fit (nor a second week to backtest on): serve the run rate. */
export const MIN_HISTORY_DAYS = 14;
/** Backtest: 7 days ahead from each of the last 28 origins (four weeks, so every weekday is an origin 4 times). */
export const BACKTEST_HORIZON = 7;
export const BACKTEST_ORIGINS = 28;

/** The fitted models; "ensemble" is their mean, "run_rate" the fallback. */
export const MODELS: Readonly<Record<"seasonal_naive" | "linear" | "holt_winters", Model>> = {
  seasonal_naive: seasonalNaive,
  linear: linearTrend,
  holt_winters: (y, horizon) => holtWinters(y, horizon),
};

const FITTED = Object.keys(MODELS) as (keyof typeof MODELS)[];

/** Forecasts with one method on raw values (no band): for the evaluation and tests. */
export function forecastWith(method: ForecastMethod, y: readonly number[], horizon: number): number[] {
  if (method === "run_rate") return runRate(y, horizon).map(nonNegative);
  if (method === "ensemble") return meanOf(FITTED.map((m) => MODELS[m](y, horizon).map(nonNegative)));
  return MODELS[method](y, horizon).map(nonNegative);
}

function meanOf(series: readonly (readonly number[])[]): number[] {
  const first = series[0] ?? [];
  return first.map((_, i) => series.reduce((sum, s) => sum + (s[i] ?? 0), 0) / series.length);
}

export interface ForecastOptions {
  /** First forecast day when `history` is empty (otherwise the day after its last). Default: today, UTC. */
  startDay?: string;
}

/**
 * Served forecast: every model is backtested on the series (rolling origin, 7 days ahead, last 28 origins) and the
 * one with the lowest MAPE, or the models' mean when it does best, is refitted on the whole series. Under 14 days
 * of history: the last week's run rate, flagged insufficientData.
 */
export function forecastDaily(
  history: readonly DailyPoint[],
  horizonDays: number,
  options: ForecastOptions = {},
): SpendForecast {
  const y = history.map((p) => p.usd);
  const labels = dayLabels(history, horizonDays, options.startDay);
  if (y.length < MIN_HISTORY_DAYS) return runRateForecast(y, labels);

  const origins = rollingOrigins(y.length, {
    horizon: BACKTEST_HORIZON,
    maxOrigins: BACKTEST_ORIGINS,
    minTrain: MIN_HISTORY_DAYS,
  });
  const backtests = new Map<ForecastMethod, number[][]>();
  for (const m of FITTED) backtests.set(m, backtestModel(y, MODELS[m], origins));
  backtests.set("ensemble", ensembleOf(FITTED.map((m) => backtests.get(m) ?? [])));

  const backtestMape: Partial<Record<ForecastMethod, number>> = {};
  let served: ForecastMethod = "ensemble";
  let best = Number.POSITIVE_INFINITY;
  for (const [method, forecasts] of backtests) {
    const error = mape(y, origins, forecasts);
    if (Number.isNaN(error)) continue;
    backtestMape[method] = error;
    if (error < best) {
      best = error;
      served = method;
    }
  }
  const point = forecastWith(served, y, labels.length);
  const ratios = errorRatios(y, origins, backtests.get(served) ?? []);
  const band = enoughSamples(ratios) ? ratioBand(ratios) : spreadBand(y);
  return { method: served, insufficientData: false, days: withBand(labels, point, band), backtestMape };
}

/** Run rate (mean of the last week) with a band from the history's day-to-day spread. */
export function runRateForecast(y: readonly number[], labels: readonly string[], ratePerDay?: number): SpendForecast {
  const point = ratePerDay === undefined ? forecastWith("run_rate", y, labels.length) : labels.map(() => ratePerDay);
  return {
    method: "run_rate",
    insufficientData: true,
    days: withBand(labels, point, spreadBand(ratePerDay === undefined ? y : [])),
    backtestMape: {},
  };
}

function ensembleOf(perModel: readonly number[][][]): number[][] {
  const first = perModel[0] ?? [];
  return first.map((_, i) => meanOf(perModel.map((forecasts) => forecasts[i] ?? [])));
}

// ~80% band: the 10th and 90th percentiles.
const LOW_Q = 0.1;
const HIGH_Q = 0.9;
/** Normal quantile of 0.9: spreads in standard deviations become an 80% band. */
export const Z80 = 1.2815515655446004;

/**
 * A band as multipliers of the forecast: daily(h) for the day h ahead, cumulative(k) for the sum of the first k
 * days. Both are functions of how far ahead, so bands widen past what the backtest measured.
 */
interface Band {
  daily(h: number): [low: number, high: number];
  cumulative(k: number): [low: number, high: number];
}

const MIN_DAILY_SAMPLES = 10;
const MIN_CUMULATIVE_SAMPLES = 5;

function enoughSamples(r: ErrorRatios): boolean {
  return r.daily.length >= MIN_DAILY_SAMPLES && (r.cumulative[0]?.length ?? 0) >= MIN_CUMULATIVE_SAMPLES;
}

/**
 * Band from the served method's backtest, as actual/forecast ratios. One day: the empirical 10th and 90th
 * percentiles, all horizons pooled (~200 samples). A running sum of k days (k <= 7): ±1.28 × the ratio's RMS
 * deviation from 1 (bias included), since the tails of 28 overlapping origins are too few to read percentiles
 * from (percentiles covered 66% of weekly sums in eval:forecast, the RMS 77%). Beyond the 7 days measured the
 * deviation grows with sqrt(h / 7), as a random walk's would: unmeasured, so deliberately wider.
 */
function ratioBand(r: ErrorRatios): Band {
  const daily: [number, number] = [quantile(r.daily, LOW_Q), quantile(r.daily, HIGH_Q)];
  const cumulative: [number, number][] = [];
  let last = daily;
  for (let k = 0; k < BACKTEST_HORIZON; k++) {
    const samples = r.cumulative[k] ?? [];
    if (samples.length >= MIN_CUMULATIVE_SAMPLES) {
      const rms = Math.sqrt(samples.reduce((sum, ratio) => sum + (ratio - 1) ** 2, 0) / samples.length);
      last = [Math.max(0, 1 - Z80 * rms), 1 + Z80 * rms];
    }
    cumulative.push(last);
  }
  return {
    daily: (h) => widen(daily, h / BACKTEST_HORIZON),
    cumulative: (k) => widen(cumulative[Math.min(k, BACKTEST_HORIZON) - 1] ?? daily, k / BACKTEST_HORIZON),
  };
}

function widen([low, high]: [number, number], ratio: number): [number, number] {
  const f = ratio > 1 ? Math.sqrt(ratio) : 1;
  return [Math.max(0, 1 - (1 - low) * f), 1 + (high - 1) * f];
}

/**
 * Band without a backtest: the last four weeks' coefficient of variation (sd / mean) as one day's relative spread;
 * a k-day sum has variance k·sd² plus the uncertainty of the weekly mean itself (k²·sd²/7). With under two days, ±100%.
 */
function spreadBand(y: readonly number[]): Band {
  const recent = y.slice(-4 * SEASON);
  const n = recent.length;
  const m = n === 0 ? 0 : recent.reduce((a, b) => a + b, 0) / n;
  let cv = 1;
  if (n >= 2 && m > 0) cv = Math.sqrt(recent.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) / m;
  const daily: [number, number] = [Math.max(0, 1 - Z80 * cv), 1 + Z80 * cv];
  // The run rate is the mean of the last week, so its own uncertainty is that of a mean of up to 7 days.
  const known = Math.max(Math.min(n, SEASON), 1);
  return {
    daily: () => daily,
    cumulative: (k) => {
      // Relative spread of a k-day sum: sqrt(k·sd² + k²·sd²/n) / (k·mean).
      const rel = Z80 * cv * Math.sqrt(1 / k + 1 / known);
      return [Math.max(0, 1 - rel), 1 + rel];
    },
  };
}

function withBand(labels: readonly string[], point: readonly number[], band: Band): ForecastDay[] {
  const days: ForecastDay[] = [];
  let cum = 0;
  let cumLow = 0;
  let cumHigh = 0;
  labels.forEach((day, i) => {
    const usd = point[i] ?? 0;
    cum += usd;
    const [lo, hi] = band.daily(i + 1);
    const [cLo, cHi] = band.cumulative(i + 1);
    // Running sums only grow: keep the band's edges monotone too.
    cumLow = Math.max(cumLow, cum * cLo);
    cumHigh = Math.max(cumHigh, cum * cHi);
    days.push({ day, usd, low: usd * lo, high: usd * hi, cumUsd: cum, cumLow, cumHigh });
  });
  return days;
}

const DAY_MS = 86_400_000;

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

function dayLabels(history: readonly DailyPoint[], horizon: number, startDay?: string): string[] {
  const last = history[history.length - 1];
  const first = last ? addDays(last.day, 1) : (startDay ?? new Date().toISOString().slice(0, 10));
  const out: string[] = [];
  for (let i = 0; i < horizon; i++) out.push(addDays(first, i));
  return out;
}
