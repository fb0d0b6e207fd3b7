import { pickThenAscending } from "./order.js";
import type { RandomSource, RouteCandidate, RouteChoice, RoutingStrategy, StrategyRequest } from "./types.js";

/** Weighted random pick by configured weight ("manual" mode); fallbacks by weight, heaviest first. */
export function weightedStrategy(): RoutingStrategy {
  return {
    name: "weighted",
    choose(candidates: readonly RouteCandidate[], _request: StrategyRequest, random: RandomSource = Math.random) {
      return chooseWeighted(candidates, random);
    },
  };
}

export function chooseWeighted(candidates: readonly RouteCandidate[], random: RandomSource): RouteChoice {
  const n = candidates.length;
  if (n === 0) return { ordered: [], reason: "no candidates" };
  const negativeWeights = new Float64Array(n); // ascending key = heaviest first
  let total = 0;
  for (let i = 0; i < n; i++) {
    const weight = (candidates[i] as RouteCandidate).weight;
    negativeWeights[i] = -weight;
    total += weight;
  }
  let target = random() * total;
  let pick = n - 1;
  for (let i = 0; i < n; i++) {
    target -= (candidates[i] as RouteCandidate).weight;
    if (target < 0) {
      pick = i;
      break;
    }
  }
  const chosen = candidates[pick] as RouteCandidate;
  return {
    ordered: pickThenAscending(candidates, pick, negativeWeights),
    reason: `weighted ${chosen.weight}/${Number(total.toPrecision(4))}`,
  };
}
