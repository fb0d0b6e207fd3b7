export {
  AdaptiveBandit,
  type AdaptiveBanditOptions,
  type ArmWeight,
  type BanditObservation,
  DEFAULT_REWARD_WEIGHTS,
  type RewardWeights,
} from "./bandit.js";
export { type CostStrategyOptions, chooseCheapest, costStrategy } from "./cost.js";
export { type GeoOptions, type GeoPolicy, type GeoSplit, geoFilter, geoStrategy } from "./geo.js";
export { chooseP2C, latencyStrategy } from "./latency.js";
export { MODES, type RoutingMode, type StrategyName } from "./modes.js";
export {
  type LatencySnapshot,
  LatencyTracker,
  lengthNormalisedLatencyMs,
  PEAK_EWMA_DEFAULTS,
  PeakEwma,
  type PeakEwmaOptions,
} from "./peak-ewma.js";
export { chooseBestQuality, qualityStrategy } from "./quality.js";
export { mulberry32 } from "./random.js";
export type { Clock, RandomSource, RouteCandidate, RouteChoice, RoutingStrategy, StrategyRequest } from "./types.js";
export { chooseWeighted, weightedStrategy } from "./weighted.js";
