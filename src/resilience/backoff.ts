export interface BackoffOptions {
  /** The first retry waits up to this long; each further one doubles it. */
  baseMs: number;
  /** No single wait is longer than this (a retry-after may still ask for more; see retryDelay). */
  capMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { baseMs: 250, capMs: 8_000 };

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff and Jitter): a uniform wait in
 * [0, min(cap, base * 2^retry)). Spreading retries over the whole window is what keeps many clients
 * that failed together from retrying together. `retry` is 0 for the first retry.
 */
export function fullJitterDelay(
  retry: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  // 2^retry overflows to Infinity for huge retries; min() with the cap keeps it finite.
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

export interface RetryDelayInput {
  /** 0 for the first retry. */
  retry: number;
  /** When the request's first attempt started (ms since the epoch, same clock as `now`). */
  startedAt: number;
  now: number;
  /** The request's whole retry budget: no retry starts later than startedAt + maxTotalMs. */
  maxTotalMs: number;
  /** The upstream's retry-after, if it gave one (see classifyFailure). */
  retryAfterMs?: number;
}

/**
 * How long to wait before the next retry, or undefined when it would start past the request's deadline
 * (then fall back to another deployment, or give up). A retry-after is honoured as a floor: waiting less
 * would only earn another 429, and it is not capped by `capMs`, only by the deadline.
 */
export function retryDelay(
  input: RetryDelayInput,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number | undefined {
  const jittered = fullJitterDelay(input.retry, options, random);
  const delay = input.retryAfterMs === undefined ? jittered : Math.max(jittered, input.retryAfterMs);
  const deadline = input.startedAt + input.maxTotalMs;
  return input.now + delay < deadline ? delay : undefined;
}
