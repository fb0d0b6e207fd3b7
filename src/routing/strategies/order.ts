import type { RouteCandidate } from "./types.js";

/**
 * `[candidates[pick], ...the others by ascending key]`: the pick first, then the fallback order. keys[i] belongs to
 * candidates[i]. Insertion sort: there are a handful of candidates, and it allocates nothing beyond the result.
 */
export function pickThenAscending(
  candidates: readonly RouteCandidate[],
  pick: number,
  keys: ArrayLike<number>,
): RouteCandidate[] {
  const ordered: RouteCandidate[] = [candidates[pick] as RouteCandidate];
  const orderedKeys: number[] = [Number.NEGATIVE_INFINITY];
  for (let i = 0; i < candidates.length; i++) {
    if (i === pick) continue;
    const key = keys[i] as number;
    let at = ordered.length;
    while (at > 1 && key < (orderedKeys[at - 1] as number)) at--;
    ordered.splice(at, 0, candidates[i] as RouteCandidate);
    orderedKeys.splice(at, 0, key);
  }
  return ordered;
}

/** Sort key for "cheapest first": unpriced candidates go last, since an unknown price is not assumed cheap. */
export function costKey(candidate: RouteCandidate): number {
  return candidate.costUsd ?? Number.POSITIVE_INFINITY;
}

/** Comparator: cost ascending, unpriced last. */
export function byCost(a: RouteCandidate, b: RouteCandidate): number {
  if (a.costUsd === undefined) return b.costUsd === undefined ? 0 : 1;
  if (b.costUsd === undefined) return -1;
  return a.costUsd - b.costUsd;
}

/** "$0.00021": four significant digits, enough to tell deployments apart in a header. */
export function formatUsd(usd: number): string {
  return `$${Number(usd.toPrecision(4))}`;
}

/** "12.3ms" */
export function formatMs(ms: number): string {
  return `${Number(ms.toFixed(1))}ms`;
}
