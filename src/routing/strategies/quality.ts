import { byCost, formatUsd } from "./order.js";
import type { RouteCandidate, RouteChoice, RoutingStrategy, StrategyRequest } from "./types.js";

/**
 * Best quality within the request's cost cap: the highest `quality` whose predicted cost is <= maxCostUsd, ties
 * to the cheaper. An unpriced candidate cannot be shown to fit a cap, so under a cap it does not. When nothing
 * fits, cheapest first and the reason says the cap could not be met. Without a cap: best quality.
 */
export function qualityStrategy(): RoutingStrategy {
  return {
    name: "quality",
    choose(candidates: readonly RouteCandidate[], request: StrategyRequest) {
      return chooseBestQuality(candidates, request.maxCostUsd);
    },
  };
}

export function chooseBestQuality(candidates: readonly RouteCandidate[], maxCostUsd: number | undefined): RouteChoice {
  if (candidates.length === 0) return { ordered: [], reason: "no candidates" };
  const fitting: RouteCandidate[] = [];
  const over: RouteCandidate[] = [];
  for (const candidate of candidates) {
    const fits = maxCostUsd === undefined || (candidate.costUsd !== undefined && candidate.costUsd <= maxCostUsd);
    (fits ? fitting : over).push(candidate);
  }
  fitting.sort(byQualityThenCost);
  over.sort(byCost);
  const ordered = fitting.concat(over);
  const chosen = ordered[0] as RouteCandidate;
  const price = chosen.costUsd === undefined ? "unpriced" : formatUsd(chosen.costUsd);
  if (maxCostUsd === undefined) return { ordered, reason: `best quality ${chosen.quality ?? "unknown"} ${price}` };
  if (fitting.length === 0) return { ordered, reason: `none under cap ${formatUsd(maxCostUsd)}: cheapest ${price}` };
  return { ordered, reason: `best quality ${chosen.quality ?? "unknown"} ${price} <= cap ${formatUsd(maxCostUsd)}` };
}

/** Quality descending (unknown quality last), then cost ascending. */
function byQualityThenCost(a: RouteCandidate, b: RouteCandidate): number {
  const qa = a.quality ?? Number.NEGATIVE_INFINITY;
  const qb = b.quality ?? Number.NEGATIVE_INFINITY;
  if (qa !== qb) return qa > qb ? -1 : 1;
  return byCost(a, b);
}
