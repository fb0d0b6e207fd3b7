// The contract between the route stage and the strategies. Strategies are pure: they see the eligible candidates
// for one request (context window, capabilities and breaker state were filtered before) and return an order.

/** One deployment as a strategy sees it for one request. */
export interface RouteCandidate {
  /** Deployment id, `provider/model`. */
  readonly id: string;
  /** Configured weight (> 0). */
  readonly weight: number;
  readonly region: string | undefined;
  /** Predicted cost of this request on this deployment; undefined when the deployment is unpriced. */
  readonly costUsd: number | undefined;
  /** Quality score, higher is better; undefined when unknown. */
  readonly quality: number | undefined;
}

export interface RouteChoice {
  /** `ordered[0]` is the pick; the rest is the retry/fallback order, next-best first. Empty only when a filter (geo strict) left nothing. */
  ordered: RouteCandidate[];
  /** A few words for the x-tollgate-route header, e.g. "cheapest $0.00021". */
  reason: string;
}

export interface StrategyRequest {
  /** Per-request cost cap (quality strategy). */
  maxCostUsd?: number;
  /** Region the caller asked for (geo filter). */
  region?: string;
}

/** Uniform in [0, 1). Injectable so tests and the simulation are deterministic. */
export type RandomSource = () => number;

export interface RoutingStrategy {
  readonly name: string;
  choose(candidates: readonly RouteCandidate[], request: StrategyRequest, random?: RandomSource): RouteChoice;
}

/** Milliseconds, injectable for tests and virtual-time simulation. */
export type Clock = () => number;
