/** Every strategy by name. `quality` has no mode of its own: it is chosen per alias (a cost cap with a quality goal). */
export type StrategyName = "weighted" | "latency" | "cost" | "quality" | "adaptive";

/** The named routing modes users configure, and the strategy each one runs. */
export const MODES = {
  manual: "weighted",
  adaptive: "adaptive",
  "cost-first": "cost",
  "latency-first": "latency",
} as const satisfies Record<string, StrategyName>;

export type RoutingMode = keyof typeof MODES;
