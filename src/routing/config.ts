import { z } from "zod";

/** The strategies an alias (or a rule) may route by. */
export const STRATEGIES = ["weighted", "latency", "cost", "quality", "geo", "adaptive"] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** The named modes users pick from, and the strategy each stands for. */
export const MODE_STRATEGY = {
  manual: "weighted",
  adaptive: "adaptive",
  "cost-first": "cost",
  "latency-first": "latency",
} as const satisfies Record<string, StrategyName>;

/** A strategy by name, or a named mode (mapped to its strategy). */
export const StrategySchema = z
  .enum([...STRATEGIES, "manual", "cost-first", "latency-first"])
  .transform(
    (s): StrategyName => (s in MODE_STRATEGY ? MODE_STRATEGY[s as keyof typeof MODE_STRATEGY] : s) as StrategyName,
  );

const seconds = z.number().positive();

export const AliasRoutingSchema = {
  strategy: StrategySchema.default("weighted").describe(
    "weighted | latency | cost | quality | geo | adaptive, or a mode: manual (weighted), cost-first, latency-first.",
  ),
  geo: z
    .object({
      policy: z
        .enum(["strict", "prefer"])
        .default("prefer")
        .describe("strict: never leave the caller's region; prefer: stay local, overflow when local is unhealthy."),
      order_by: StrategySchema.default("latency").describe("The strategy that orders the deployments geo kept."),
    })
    .strict()
    .prefault({})
    .describe("Residency for strategy geo."),
  max_cost_usd: z
    .number()
    .positive()
    .optional()
    .describe("Per-request cost cap for strategy quality (the x-tollgate-max-cost header or a rule may set it)."),
  cost_margin: z
    .number()
    .min(0)
    .default(0.1)
    .describe("Strategy cost: deployments within this fraction of the cheapest share the load (1/price² weights)."),
  timeouts: z
    .object({
      attempt_ms: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          "Longest one attempt may take to begin its answer (a stream: its first event; JSON: the whole answer); past it the attempt counts as a timeout and the next deployment is tried.",
        ),
    })
    .strict()
    .prefault({})
    .describe("Per-alias timeout, within the providers' connect / first-byte / idle timeouts."),
  fallbacks: z
    .object({
      general: z.array(z.string().min(1)).default([]).describe("Aliases tried in order when every deployment failed."),
      context_window: z
        .array(z.string().min(1))
        .default([])
        .describe("Aliases (larger-context models) for a prompt too long for this one."),
      content_policy: z
        .array(z.string().min(1))
        .default([])
        .describe("Aliases for a request a provider refused on content policy."),
    })
    .strict()
    .prefault({})
    .describe("Fallback aliases, each used only for its own failure class."),
};

export const RoutingConfigSchema = z
  .object({
    region: z.string().optional().describe("The callers' region when neither the header nor the key says."),
    region_header: z.string().default("x-tollgate-region").describe("Request header naming the caller's region."),
    latency_decay_s: seconds
      .default(10)
      .describe("Peak-EWMA decay time of measured latency (Finagle's and Linkerd's default, 10 s)."),
    adaptive: z
      .object({
        success: z.number().min(0).default(0.5).describe("Weight of success in the bandit's reward."),
        latency: z.number().min(0).default(0.2).describe("Weight of (low) latency in the reward."),
        cost: z.number().min(0).default(0.3).describe("Weight of (low) cost in the reward."),
        discount: z
          .number()
          .gt(0)
          .max(1)
          .default(0.99)
          .describe("Per-observation discount of past rewards, so the bandit follows change."),
      })
      .strict()
      .prefault({})
      .describe("The adaptive strategy's bandit (discounted Thompson sampling)."),
  })
  .strict();

export const ResilienceConfigSchema = z
  .object({
    retry: z
      .object({
        max_attempts: z.number().int().min(1).default(3).describe("Upstream attempts per request, the first included."),
        base_ms: z
          .number()
          .int()
          .min(0)
          .default(25)
          .describe("Backoff base: attempt n waits up to base × 2^n (full jitter)."),
        max_backoff_ms: z.number().int().min(0).default(2_000).describe("Longest single wait between attempts."),
        max_total_ms: z
          .number()
          .int()
          .positive()
          .default(30_000)
          .describe("No retry starts after this long since the request arrived."),
      })
      .strict()
      .prefault({})
      .describe("Retries on the next-best deployment: connect errors, 408, 429, 5xx, overloaded."),
    breaker: z
      .discriminatedUnion("kind", [
        z
          .object({
            kind: z.literal("consecutive"),
            failures: z.number().int().positive().default(5).describe("Consecutive failures that open the breaker."),
            half_open_after_s: seconds.default(10).describe("Open this long, then one probe request is let through."),
          })
          .strict(),
        z
          .object({
            kind: z.literal("sampling"),
            threshold: z.number().gt(0).max(1).default(0.5).describe("Failure rate that opens the breaker."),
            duration_s: seconds.default(30).describe("The window the rate is measured over."),
            minimum_rps: z.number().positive().default(2).describe("Below this rate the breaker stays closed."),
            half_open_after_s: seconds.default(10).describe("Open this long, then one probe request is let through."),
          })
          .strict(),
      ])
      .default({ kind: "consecutive", failures: 5, half_open_after_s: 10 })
      .describe("Circuit breaker per deployment (cockatiel): consecutive failures, or a failure rate."),
    cooldown_s: seconds.default(5).describe("A 429 without retry-after takes the deployment out this long."),
    outlier: z
      .object({
        consecutive_failures: z
          .number()
          .int()
          .positive()
          .default(5)
          .describe("Eject after this many failures in a row."),
        latency_factor: z
          .number()
          .gt(1)
          .default(5)
          .describe("Eject when the latency EWMA is this many times the median of the alias's others."),
        base_ejection_s: seconds.default(30).describe("First ejection; each next one lasts a multiple longer."),
        max_ejection_percent: z
          .number()
          .min(0)
          .max(100)
          .default(50)
          .describe("Never eject more than this share of an alias's deployments."),
      })
      .strict()
      .prefault({})
      .describe("Passive outlier ejection (Envoy-style)."),
    health_checks: z
      .object({
        enabled: z.boolean().default(false).describe("Probe each deployment's provider (a models listing) actively."),
        interval_s: seconds.default(30).describe("Between probes."),
        healthy_threshold: z.number().int().positive().default(2).describe("Successes in a row that mark it healthy."),
        unhealthy_threshold: z
          .number()
          .int()
          .positive()
          .default(3)
          .describe("Failures in a row that mark it unhealthy."),
      })
      .strict()
      .prefault({})
      .describe("Active health checks."),
  })
  .strict();

export type RoutingConfig = z.infer<typeof RoutingConfigSchema>;
export type ResilienceConfig = z.infer<typeof ResilienceConfigSchema>;
