import type { WindowStats } from "./baseline.js";

export const MINUTE_MS = 60_000;
export const DAY_MINUTES = 1440;
export const WEEK_MINUTES = 7 * DAY_MINUTES;
// Minute 0 (1970-01-01) was a Thursday: (day + 4) % 7 is 0 on Sundays.
const THURSDAY = 4;
// Below this many priced requests a window says nothing about the cost per request.
const MIN_PRICED = 3;

export const mod = (a: number, b: number) => ((a % b) + b) % b;

/** Per-minute totals of one scope over the last `size` minutes; a cell of an older minute reads as zero. */
export class MinuteRing {
  private readonly spend: Float64Array;
  private readonly requests: Float64Array;
  private readonly priced: Float64Array;
  private readonly logCost: Float64Array;
  private readonly stamp: Float64Array;
  newest: number;

  constructor(
    readonly size: number,
    first: number,
  ) {
    this.spend = new Float64Array(size);
    this.requests = new Float64Array(size);
    this.priced = new Float64Array(size);
    this.logCost = new Float64Array(size);
    this.stamp = new Float64Array(size).fill(Number.NaN);
    this.newest = first;
  }

  /** False when the minute has left the ring. */
  add(minute: number, costUsd: number, requests: number): boolean {
    if (minute <= this.newest - this.size) return false;
    if (minute > this.newest) this.newest = minute;
    const i = mod(minute, this.size);
    if (this.stamp[i] !== minute) {
      this.stamp[i] = minute;
      this.spend[i] = 0;
      this.requests[i] = 0;
      this.priced[i] = 0;
      this.logCost[i] = 0;
    }
    if (requests > 0) this.requests[i] = (this.requests[i] as number) + requests;
    if (costUsd > 0) {
      this.spend[i] = (this.spend[i] as number) + costUsd;
      // A record of n requests counts as n at its mean cost; free ones (cache hits) say nothing about the price.
      const n = requests > 0 ? requests : 1;
      this.priced[i] = (this.priced[i] as number) + n;
      this.logCost[i] = (this.logCost[i] as number) + n * Math.log(costUsd / n);
    }
    return true;
  }

  /**
   * For each minute of [from, to] with priced requests, sqrt(n) |mean log cost - center| into `out` (a draw of one
   * request's deviation, whatever n); returns how many.
   */
  unitCostDeviations(from: number, to: number, center: number, out: Float64Array): number {
    let k = 0;
    for (let m = from; m <= to; m++) {
      const i = mod(m, this.size);
      const n = this.priced[i] as number;
      if (this.stamp[i] !== m || n <= 0) continue;
      out[k++] = Math.sqrt(n) * Math.abs((this.logCost[i] as number) / n - center);
    }
    return k;
  }

  /** Rates over the `w` minutes ending at minute `end`. */
  window(end: number, w: number): WindowStats {
    let spend = 0;
    let requests = 0;
    let priced = 0;
    let logCost = 0;
    for (let m = end - w + 1; m <= end; m++) {
      const i = mod(m, this.size);
      if (this.stamp[i] !== m) continue;
      spend += this.spend[i] as number;
      requests += this.requests[i] as number;
      priced += this.priced[i] as number;
      logCost += this.logCost[i] as number;
    }
    return {
      spend: spend / w,
      requests: requests / w,
      logUnitCost: priced >= MIN_PRICED ? logCost / priced : Number.NaN,
      priced,
    };
  }
}

/** Seasonal slot of a local minute: minute-of-week, or minute-of-day with weekdays and weekends apart. */
export function slotOf(kind: "week" | "day", localMinute: number, width: number): number {
  if (kind === "week") return Math.floor(mod(localMinute, WEEK_MINUTES) / width);
  const weekday = mod(Math.floor(localMinute / DAY_MINUTES) + THURSDAY, 7);
  const weekend = weekday === 0 || weekday === 6 ? DAY_MINUTES / width : 0;
  return weekend + Math.floor(mod(localMinute, DAY_MINUTES) / width);
}
