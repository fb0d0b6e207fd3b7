import { costKey, formatUsd, pickThenAscending } from "./order.js";
import type { RandomSource, RouteCandidate, RouteChoice, RoutingStrategy, StrategyRequest } from "./types.js";
import { chooseWeighted } from "./weighted.js";

export interface CostStrategyOptions {
  /** Candidates within this fraction of the cheapest price share the traffic (0.1 = within 10%). */
  readonly margin?: number;
}

/**
 * Cheapest first ("cost-first"). Near-equal prices (within `margin` of the cheapest) share the traffic with
 * weight 1/price², as OpenRouter's price-based balancing does, so two equally cheap providers both stay warm
 * and one's rate limit is not hit first. Fallbacks by price; unpriced candidates last.
 */
export function costStrategy(options: CostStrategyOptions = {}): RoutingStrategy {
  const margin = options.margin ?? 0.1;
  return {
    name: "cost",
    choose(candidates: readonly RouteCandidate[], _request: StrategyRequest, random: RandomSource = Math.random) {
      return chooseCheapest(candidates, margin, random);
    },
  };
}

export function chooseCheapest(
  candidates: readonly RouteCandidate[],
  margin: number,
  random: RandomSource,
): RouteChoice {
  const n = candidates.length;
  if (n === 0) return { ordered: [], reason: "no candidates" };
  const keys = new Float64Array(n);
  let cheapest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const key = costKey(candidates[i] as RouteCandidate);
    keys[i] = key;
    if (key < cheapest) cheapest = key;
  }
  if (cheapest === Number.POSITIVE_INFINITY) {
    const choice = chooseWeighted(candidates, random);
    return { ordered: choice.ordered, reason: `unpriced, ${choice.reason}` };
  }
  const pick = pickNearCheapest(keys, cheapest * (1 + margin), random);
  const price = keys[pick] as number;
  return {
    ordered: pickThenAscending(candidates, pick, keys),
    reason: price === cheapest ? `cheapest ${formatUsd(price)}` : `near-cheapest ${formatUsd(price)}`,
  };
}

/** Among prices <= ceiling, draw with weight 1/price²; free (price 0) candidates, if any, share evenly. */
function pickNearCheapest(prices: Float64Array, ceiling: number, random: RandomSource): number {
  let total = 0;
  let free = 0;
  for (const price of prices) {
    if (price > ceiling) continue;
    if (price === 0) free++;
    else total += 1 / (price * price);
  }
  if (free > 0) {
    let nth = Math.floor(random() * free);
    for (let i = 0; i < prices.length; i++) if (prices[i] === 0 && nth-- === 0) return i;
  }
  let target = random() * total;
  let last = 0;
  for (let i = 0; i < prices.length; i++) {
    const price = prices[i] as number;
    if (price > ceiling) continue;
    last = i;
    target -= 1 / (price * price);
    if (target < 0) return i;
  }
  return last;
}
