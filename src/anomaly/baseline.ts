/** 0.6745 makes the MAD of normal data comparable to its standard deviation (Iglewicz and Hoaglin). */
export const MAD_SCALE = 0.6745;

/** A scope's rates over a window: USD and requests per minute, and the log of the geometric-mean request cost. */
export interface WindowStats {
  spend: number;
  requests: number;
  /** ln(USD) per priced request; NaN when the window holds too few priced requests to say. */
  logUnitCost: number;
  /** Priced requests in the window. */
  priced: number;
}

/** What a scope usually does at some time: median and MAD of each of its window statistics. */
export interface Baseline {
  spend: number;
  spendMad: number;
  requests: number;
  requestsMad: number;
  /** NaN until priced requests have been seen. */
  logUnitCost: number;
  /** MAD of one request's log cost (not of a window's mean), so any window's count rescales it. */
  logUnitCostMad: number;
}

/** Median and MAD of the finite values in `values[0..n)` (which it reorders); NaNs when there are none. */
export function medianAndMad(values: Float64Array, n: number, scratch: Float64Array): [number, number] {
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) values[k++] = v;
  }
  if (k === 0) return [Number.NaN, Number.NaN];
  const median = medianOfSorted(values.subarray(0, k).sort());
  for (let i = 0; i < k; i++) scratch[i] = Math.abs((values[i] as number) - median);
  return [median, medianOfSorted(scratch.subarray(0, k).sort())];
}

/** Median of `values[0..n)` (which it sorts in place); NaN when n is 0. */
export function median(values: Float64Array, n: number): number {
  return n === 0 ? Number.NaN : medianOfSorted(values.subarray(0, n).sort());
}

function medianOfSorted(sorted: Float64Array): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const FIELDS = 6;

/**
 * EWMA of a baseline per seasonal slot. Float32 and a one-byte sample count keep a scope's minute-of-week profile
 * (672 slots of 15 minutes) at 16 KB.
 */
export class SeasonalProfile {
  private readonly values: Float32Array;
  private readonly samples: Uint8Array;

  constructor(
    readonly slots: number,
    private readonly alpha: number,
  ) {
    this.values = new Float32Array(slots * FIELDS).fill(Number.NaN);
    this.samples = new Uint8Array(slots);
  }

  samplesAt(slot: number): number {
    return this.samples[slot] as number;
  }

  read(slot: number): Baseline {
    const i = slot * FIELDS;
    const v = this.values;
    return {
      spend: v[i] as number,
      spendMad: v[i + 1] as number,
      requests: v[i + 2] as number,
      requestsMad: v[i + 3] as number,
      logUnitCost: v[i + 4] as number,
      logUnitCostMad: v[i + 5] as number,
    };
  }

  learn(slot: number, sample: Baseline): void {
    const n = Math.min(255, (this.samples[slot] as number) + 1);
    this.samples[slot] = n;
    // A running mean for the first samples, so two weeks weigh equally rather than 0.3 / 0.7.
    const a = Math.max(this.alpha, 1 / n);
    const i = slot * FIELDS;
    this.blend(i, sample.spend, a);
    this.blend(i + 1, sample.spendMad, a);
    this.blend(i + 2, sample.requests, a);
    this.blend(i + 3, sample.requestsMad, a);
    this.blend(i + 4, sample.logUnitCost, a);
    this.blend(i + 5, sample.logUnitCostMad, a);
  }

  /** A NaN sample (no priced requests in the slot) leaves the value as it was. */
  private blend(i: number, x: number, a: number): void {
    if (Number.isNaN(x)) return;
    const old = this.values[i] as number;
    this.values[i] = Number.isNaN(old) ? x : (1 - a) * old + a * x;
  }
}
