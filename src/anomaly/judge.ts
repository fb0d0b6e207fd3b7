import { type Baseline, MAD_SCALE, type WindowStats } from "./baseline.js";
import type { AnomalyConfig } from "./config.js";
import { poissonUpperTail } from "./poisson.js";

export type BaselineSource = "week" | "day" | "recent";
export type AnomalyMetric = "requests" | "cost_per_request";

type Thresholds = Pick<
  AnomalyConfig,
  "z_threshold" | "min_ratio" | "min_excess_usd_per_hour" | "window_minutes" | "burst_allowance" | "count_alpha"
>;

// MAD floors: relative, so a very regular scope needs a real change; absolute, for slots that are usually idle
// (half a request a minute; 5% on the log cost).
const MAD_FLOOR_RATIO = 0.05;
const SPEND_MAD_FLOOR = 1e-6;
const REQUESTS_MAD_FLOOR = 0.5;
const LOG_UNIT_COST_MAD_FLOOR = 0.05;
// An idle slot still expects half a request a minute, so a handful of requests is not a flood.
const REQUESTS_RATE_FLOOR = 0.5;

/** The current window against one baseline. */
export interface Reading {
  source: BaselineSource;
  base: Baseline;
  now: WindowStats;
  zSpend: number;
  zRequests: number;
  /** P(count >= the window's) under Poisson at burst_allowance x the baseline rate; 1 when not needed. */
  pRequests: number;
  /** 0 when either side has too few priced requests. */
  zUnitCost: number;
  /** Spend multiple explained by the significant factors (request rate, cost per request). */
  multiple: number;
  excessUsdPerHour: number;
  metric: AnomalyMetric;
  anomalous: boolean;
}

/**
 * Spend is requests x cost per request, and each factor is judged on its own: a request count is near Poisson and a
 * log cost near normal, while spend itself is heavy-tailed (one long-context call is not a spike). The request rate
 * counts when the window's count is improbable (Poisson upper tail below `count_alpha`) even at `burst_allowance` x
 * the baseline rate: on a quiet scope that asks for enough requests to tell a spike from a burst plus chance, on a busy
 * one the tail is tiny anyway and `min_ratio` decides. One window: 1-3 minute ones beside it caught no 5x spike this
 * one missed within 5 minutes, and alarmed on crons (a few minutes at 2x inside a slot; measured 4x the false alarms).
 * The cost per request counts when its modified z-score passes. The counted factors' product must reach `min_ratio`,
 * and the real spend must exceed its baseline by the dollar floor.
 */
export function judge(now: WindowStats, base: Baseline, source: BaselineSource, c: Thresholds): Reading {
  const zSpend = zScore(now.spend, base.spend, base.spendMad, SPEND_MAD_FLOOR);
  const zRequests = zScore(now.requests, base.requests, base.requestsMad, REQUESTS_MAD_FLOOR);
  let zUnitCost = 0;
  let unitFactor = 1;
  if (Number.isFinite(now.logUnitCost) && Number.isFinite(base.logUnitCost)) {
    const shift = now.logUnitCost - base.logUnitCost;
    zUnitCost = (MAD_SCALE * shift) / unitCostMad(base, now.priced);
    if (zUnitCost > c.z_threshold) unitFactor = Math.exp(shift);
  }
  const ratio = base.requests > 0 ? now.requests / base.requests : Number.POSITIVE_INFINITY;
  let pRequests = 1;
  let requestsFactor = 1;
  // The tail only matters when the rate could make the multiple.
  if (ratio > 1 && ratio * unitFactor >= c.min_ratio) {
    const w = c.window_minutes;
    const allowed = c.burst_allowance * Math.max(base.requests, REQUESTS_RATE_FLOOR);
    pRequests = poissonUpperTail(now.requests * w, allowed * w);
    if (pRequests < c.count_alpha) requestsFactor = ratio;
  }
  const multiple = requestsFactor * unitFactor;
  const excessUsdPerHour = (now.spend - base.spend) * 60;
  return {
    source,
    base,
    now,
    zSpend,
    zRequests,
    pRequests,
    zUnitCost,
    multiple,
    excessUsdPerHour,
    metric: requestsFactor >= unitFactor ? "requests" : "cost_per_request",
    anomalous: multiple >= c.min_ratio && excessUsdPerHour > 0 && excessUsdPerHour >= c.min_excess_usd_per_hour,
  };
}

/** The z-score of the factor that drove (or would drive) the reading. */
export function zOf(r: Reading): number {
  return r.metric === "requests" ? r.zRequests : r.zUnitCost;
}

/** The reading that argues most for normal: not anomalous first, then the smaller multiple. */
export function lenient(a: Reading | undefined, b: Reading): Reading {
  if (a === undefined) return b;
  if (a.anomalous !== b.anomalous) return a.anomalous ? b : a;
  return b.multiple < a.multiple || (b.multiple === a.multiple && b.excessUsdPerHour < a.excessUsdPerHour) ? b : a;
}

/** `stats` capped at the highest values that are not anomalous against `base`, for learning without the spikes. */
export function winsorise(stats: WindowStats, base: Baseline, c: Thresholds): WindowStats {
  const reach = (median: number, mad: number, absFloor: number) =>
    Math.max(median + (c.z_threshold * madFloor(mad, median, absFloor)) / MAD_SCALE, c.min_ratio * median);
  const typical = base.requests * c.window_minutes;
  const unitReach =
    base.logUnitCost + Math.max((c.z_threshold * unitCostMad(base, typical)) / MAD_SCALE, Math.log(c.min_ratio));
  return {
    spend: Math.min(stats.spend, reach(base.spend, base.spendMad, SPEND_MAD_FLOOR)),
    requests: Math.min(stats.requests, reach(base.requests, base.requestsMad, REQUESTS_MAD_FLOOR)),
    // NaN stays NaN (min would pass it through anyway); an unknown baseline caps nothing.
    logUnitCost: Number.isFinite(base.logUnitCost) ? Math.min(stats.logUnitCost, unitReach) : stats.logUnitCost,
    priced: stats.priced,
  };
}

/** MAD of the mean log cost of `priced` requests: the mean of 3 varies far more than the mean of 30. */
function unitCostMad(base: Baseline, priced: number): number {
  return Math.max(base.logUnitCostMad / Math.sqrt(Math.max(1, priced)), LOG_UNIT_COST_MAD_FLOOR);
}

function madFloor(mad: number, median: number, absFloor: number): number {
  return Math.max(mad, MAD_FLOOR_RATIO * median, absFloor);
}

function zScore(x: number, median: number, mad: number, absFloor: number): number {
  return (MAD_SCALE * (x - median)) / madFloor(mad, median, absFloor);
}
