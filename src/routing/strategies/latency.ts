import { formatMs, pickThenAscending } from "./order.js";
import type { LatencyTracker } from "./peak-ewma.js";
import type { RandomSource, RouteCandidate, RouteChoice, RoutingStrategy, StrategyRequest } from "./types.js";

/**
 * Power of two choices over peak EWMA ("latency-first"): compare two random candidates, take the lower score
 * (estimate * (inFlight + 1)). Two random choices rather than the global best avoid herding every replica onto the
 * same deployment between updates (Mitzenmacher). Fallbacks by score, lowest first. The caller reports each call
 * to the tracker (start/end), which is what moves the scores.
 */
export function latencyStrategy(tracker: LatencyTracker): RoutingStrategy {
  return {
    name: "latency",
    choose(candidates: readonly RouteCandidate[], _request: StrategyRequest, random: RandomSource = Math.random) {
      return chooseP2C(tracker, candidates, random);
    },
  };
}

export function chooseP2C(
  tracker: LatencyTracker,
  candidates: readonly RouteCandidate[],
  random: RandomSource,
): RouteChoice {
  const n = candidates.length;
  if (n === 0) return { ordered: [], reason: "no candidates" };
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = tracker.score((candidates[i] as RouteCandidate).id);
  if (n === 1) return { ordered: [candidates[0] as RouteCandidate], reason: `only ${formatMs(scores[0] as number)}` };
  const a = Math.floor(random() * n);
  let b = Math.floor(random() * (n - 1));
  if (b >= a) b++;
  const pick = (scores[b] as number) < (scores[a] as number) ? b : a;
  const other = pick === a ? b : a;
  return {
    ordered: pickThenAscending(candidates, pick, scores),
    reason: `p2c peak-ewma ${formatMs(scores[pick] as number)} vs ${formatMs(scores[other] as number)}`,
  };
}
