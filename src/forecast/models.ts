/** Spend follows the working week, so the one season modelled is 7 days. */
export const SEASON = 7;

/** A model: fit on `y` (daily spend, oldest first) and forecast the next `horizon` days. Output may be negative. */
export type Model = (y: readonly number[], horizon: number) => number[];

const at = (y: readonly number[], i: number): number => y[i] ?? 0;

function mean(y: readonly number[], from = 0, to = y.length): number {
  if (to <= from) return 0;
  let sum = 0;
  for (let i = from; i < to; i++) sum += at(y, i);
  return sum / (to - from);
}

/** Mean of the last week (or what there is) for every day ahead. */
export const runRate: Model = (y, horizon) => {
  const level = mean(y, Math.max(0, y.length - SEASON));
  return new Array<number>(horizon).fill(level);
};

/** Each day ahead repeats the same weekday of the last week observed. */
export const seasonalNaive: Model = (y, horizon) => {
  const n = y.length;
  if (n < SEASON) return runRate(y, horizon);
  const out: number[] = [];
  for (let h = 0; h < horizon; h++) out.push(at(y, n - SEASON + (h % SEASON)));
  return out;
};

/** Linear regression window: four whole weeks, so the weekly pattern does not tilt the slope. */
const LINEAR_WINDOW = 28;

/** Least-squares line through the last four weeks (whole weeks when there are fewer), extended. */
export const linearTrend: Model = (y, horizon) => {
  const n = y.length;
  let w = Math.min(n, LINEAR_WINDOW);
  if (w >= SEASON) w -= w % SEASON;
  if (w < 2) return runRate(y, horizon);
  const start = n - w;
  const xMean = (w - 1) / 2;
  const yMean = mean(y, start);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < w; i++) {
    sxy += (i - xMean) * (at(y, start + i) - yMean);
    sxx += (i - xMean) ** 2;
  }
  const slope = sxy / sxx;
  const out: number[] = [];
  for (let h = 1; h <= horizon; h++) out.push(yMean + slope * (w - 1 + h - xMean));
  return out;
};

export interface HoltWintersParams {
  alpha: number;
  beta: number;
  gamma: number;
}

interface HoltWintersState {
  level: number;
  trend: number;
  /** Indexed by day number mod 7 (day 0 = the first of the series). */
  season: number[];
  sse: number;
}

/** Runs the additive recursions over `y`, from a start taken from the first two weeks. Needs 14 days. */
function runHoltWinters(y: readonly number[], p: HoltWintersParams): HoltWintersState {
  const m1 = mean(y, 0, SEASON);
  const m2 = mean(y, SEASON, 2 * SEASON);
  let trend = (m2 - m1) / SEASON;
  // The first week's mean is the level at its middle day (3); the state starts at its last day (6).
  let level = m1 + 3 * trend;
  const season: number[] = [];
  for (let i = 0; i < SEASON; i++) season.push(at(y, i) - (m1 + (i - 3) * trend));
  let sse = 0;
  for (let t = SEASON; t < y.length; t++) {
    const s = t % SEASON;
    const yt = at(y, t);
    const seasonal = season[s] ?? 0;
    const err = yt - (level + trend + seasonal);
    sse += err * err;
    const next = p.alpha * (yt - seasonal) + (1 - p.alpha) * (level + trend);
    trend = p.beta * (next - level) + (1 - p.beta) * trend;
    level = next;
    season[s] = p.gamma * (yt - level) + (1 - p.gamma) * seasonal;
  }
  return { level, trend, season, sse };
}

// A coarse grid is enough: the one-step SSE surface is flat near its minimum, and 120 fits of a 90-day series
// cost well under a millisecond.
const ALPHAS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8];
const BETAS = [0, 0.02, 0.05, 0.1, 0.2];
const GAMMAS = [0.05, 0.1, 0.2, 0.4];

/** The smoothing parameters minimising one-step-ahead squared error over `y` (grid search). */
export function fitHoltWinters(y: readonly number[]): HoltWintersParams {
  let best: HoltWintersParams = { alpha: 0.2, beta: 0.05, gamma: 0.1 };
  let bestSse = Number.POSITIVE_INFINITY;
  for (const alpha of ALPHAS) {
    for (const beta of BETAS) {
      for (const gamma of GAMMAS) {
        const p = { alpha, beta, gamma };
        const { sse } = runHoltWinters(y, p);
        if (sse < bestSse) {
          bestSse = sse;
          best = p;
        }
      }
    }
  }
  return best;
}

/** Additive Holt-Winters with a weekly season; parameters from fitHoltWinters unless given. */
export function holtWinters(y: readonly number[], horizon: number, params?: HoltWintersParams): number[] {
  const n = y.length;
  if (n < 2 * SEASON) return seasonalNaive(y, horizon);
  const { level, trend, season } = runHoltWinters(y, params ?? fitHoltWinters(y));
  const out: number[] = [];
  for (let h = 1; h <= horizon; h++) out.push(level + h * trend + (season[(n - 1 + h) % SEASON] ?? 0));
  return out;
}
