import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { SPEND_LABELS } from "./config.js";
import { OPERATION_DURATION_BUCKETS, TIME_TO_FIRST_TOKEN_BUCKETS, TOKEN_USAGE_BUCKETS } from "./genai.js";
import { BoundHistogram } from "./histogram.js";

export interface MetricsOptions {
  /** Identity labels of tollgate_spend_usd_total (metrics.spend_labels). */
  spendLabels?: readonly (typeof SPEND_LABELS)[number][];
}

/** Every metric Tollgate exposes, defined in one place. */
export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  // Counted in a plain field and read at scrape time: a prom-client inc/dec per request costs more than that.
  const inFlight = { count: 0 };
  // Per-request counters are summed in plain fields and handed to prom-client when scraped.
  const beforeScrape: (() => void)[] = [];
  const asyncBeforeScrape: (() => Promise<void>)[] = [];
  const collect = () => {
    for (const flush of beforeScrape) flush();
  };
  collectDefaultMetrics({ register: registry });
  const labelNames = ["endpoint", "alias", "deployment"] as const;
  return {
    registry,
    /** Registers work to run before every scrape (flushing counts kept outside prom-client). */
    onScrape(flush: () => void) {
      beforeScrape.push(flush);
    },
    requests: new Counter({
      name: "tollgate_requests_total",
      help: "Requests answered, by status and outcome.",
      labelNames: [...labelNames, "status", "outcome"] as const,
      registers: [registry],
      collect,
    }),
    // Observed on every request: bound series (see BoundHistogram), bound once per label set by the observer.
    duration: new BoundHistogram(
      "tollgate_request_duration_seconds",
      "From request received to last byte sent (streams included).",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registry,
    ),
    firstByte: new BoundHistogram(
      "tollgate_time_to_first_byte_seconds",
      "Streams: from request received to the upstream's first chunk (first token).",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registry,
    ),
    tokens: new Counter({
      name: "tollgate_tokens_total",
      help: "Tokens reported by upstreams.",
      labelNames: ["alias", "deployment", "kind"] as const,
      registers: [registry],
      collect,
    }),
    pricingUpdateSuccess: new Counter({
      name: "pricing_update_success_total",
      help: "Live price refreshes applied, by source.",
      labelNames: ["source"] as const,
      registers: [registry],
    }),
    pricingUpdateFailure: new Counter({
      name: "pricing_update_failure_total",
      help: "Live price refreshes that failed or were held back (price moved beyond max_change_factor), by source.",
      labelNames: ["source", "reason"] as const,
      registers: [registry],
    }),
    pricingUpdateDuration: new Histogram({
      name: "pricing_update_duration_seconds",
      help: "Time a live price refresh took, retries included.",
      labelNames: ["source"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    priceAge: new Gauge({
      name: "tollgate_price_age_seconds",
      help: "Age of the price data in use, by source (live or last good copy on disk).",
      labelNames: ["source"] as const,
      registers: [registry],
    }),
    predictionError: new Histogram({
      name: "tollgate_prediction_relative_error",
      help: "Relative error of the estimate before the call against the actual (estimate/actual - 1), by model.",
      labelNames: ["model", "metric"] as const,
      buckets: [-0.5, -0.2, -0.1, -0.05, -0.01, 0, 0.01, 0.05, 0.1, 0.2, 0.5, 1],
      registers: [registry],
    }),
    costUsd: new Counter({
      name: "tollgate_cost_usd_total",
      help: "Actual cost of answered calls in USD, by alias and deployment.",
      labelNames: ["alias", "deployment"] as const,
      registers: [registry],
      collect,
    }),
    ledgerRecords: new Counter({
      name: "tollgate_usage_records_total",
      help: "Usage records by what happened to them: written, spooled (database unreachable), replayed, dropped.",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
    ledgerPending: new Gauge({
      name: "tollgate_usage_records_pending",
      help: "Usage records not yet in the database (buffered or spooled on disk, as records).",
      registers: [registry],
    }),
    budgetUtilization: new Gauge({
      name: "tollgate_budget_utilization_ratio",
      help: "Spend over limit, per budget scope and period.",
      labelNames: ["scope"] as const,
      registers: [registry],
      async collect() {
        for (const flush of asyncBeforeScrape) await flush();
      },
    }),
    budgetBreaches: new Counter({
      name: "tollgate_budget_breach_total",
      help: "Requests refused by a budget, by scope and level (hard, emergency).",
      labelNames: ["scope", "level"] as const,
      registers: [registry],
    }),
    modelSelection: new Counter({
      name: "tollgate_model_selection_total",
      help: "Requests routed first to a deployment, by alias, deployment and strategy.",
      labelNames: ["alias", "deployment", "strategy"] as const,
      registers: [registry],
    }),
    upstreamLatency: new BoundHistogram(
      "tollgate_upstream_latency_seconds",
      "Upstream attempts that answered JSON: time to the whole answer, by deployment and outcome.",
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registry,
    ),
    upstreamTtft: new BoundHistogram(
      "tollgate_upstream_ttft_seconds",
      "Streamed upstream attempts: time to the first event, by deployment and outcome.",
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registry,
    ),
    circuitState: new Gauge({
      name: "tollgate_circuit_state",
      help: "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open (here or on another replica).",
      labelNames: ["deployment"] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: "tollgate_retries_total",
      help: "Retries on another deployment (or the same, after its retry-after), by alias and failure kind.",
      labelNames: ["alias", "kind"] as const,
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: "tollgate_fallbacks_total",
      help: "Requests moved to a fallback alias, by alias, fallback and failure class.",
      labelNames: ["from", "to", "kind"] as const,
      registers: [registry],
    }),
    cacheRequests: new Counter({
      name: "tollgate_cache_requests_total",
      help: "Cache lookups by tier (exact) and result (hit, miss, bypass).",
      labelNames: ["tier", "result"] as const,
      registers: [registry],
    }),
    cacheSavedUsd: new Counter({
      name: "tollgate_cache_saved_usd_total",
      help: "Upstream cost the cache's hits did not spend (the original calls' cost).",
      registers: [registry],
    }),
    cacheSavedSeconds: new Counter({
      name: "tollgate_cache_saved_seconds_total",
      help: "Upstream latency the cache's hits did not wait for.",
      registers: [registry],
    }),
    cacheEntries: new Gauge({
      name: "tollgate_cache_entries",
      help: "Answers held by the cache tier.",
      labelNames: ["tier"] as const,
      registers: [registry],
    }),
    cacheBytes: new Gauge({
      name: "tollgate_cache_bytes",
      help: "Bytes of answers held by the cache tier.",
      labelNames: ["tier"] as const,
      registers: [registry],
    }),
    cacheFalseHitRate: new Gauge({
      name: "tollgate_cache_estimated_false_hit_rate",
      help: "The semantic tier's estimated false-hit rate, from its verifications (each entry's threshold keeps it under cache.semantic.error_rate).",
      registers: [registry],
    }),
    cacheEvictions: new Gauge({
      name: "tollgate_cache_evictions",
      help: "Answers evicted to make room since start (the Redis tier: Redis's own evicted_keys).",
      labelNames: ["tier"] as const,
      registers: [registry],
    }),
    // OpenTelemetry GenAI metrics (semconv v1.41) in Prometheus form, as the OTel-to-Prometheus rules write them:
    // dots become underscores, unit "s" appends _seconds, an annotation unit such as {token} appends nothing.
    // gen_ai_request_model is the upstream model (the alias is on the tollgate_* series).
    genAiTokenUsage: new BoundHistogram(
      "gen_ai_client_token_usage",
      "Number of input and output tokens used, per upstream call that reported usage (gen_ai.client.token.usage).",
      TOKEN_USAGE_BUCKETS,
      registry,
    ),
    genAiOperationDuration: new BoundHistogram(
      "gen_ai_client_operation_duration_seconds",
      "GenAI operation duration, per upstream attempt to its last byte; error_type on failed ones (gen_ai.client.operation.duration).",
      OPERATION_DURATION_BUCKETS,
      registry,
    ),
    genAiTimeToFirstToken: new BoundHistogram(
      "gen_ai_server_time_to_first_token_seconds",
      "Streams answered in full: from request received to the first chunk (gen_ai.server.time_to_first_token).",
      TIME_TO_FIRST_TOKEN_BUCKETS,
      registry,
    ),
    spendUsd: new Counter({
      name: "tollgate_spend_usd_total",
      help: "Actual spend in USD by org, team and key (as metrics.spend_labels keeps them), alias and provider.",
      labelNames: [...(options.spendLabels ?? SPEND_LABELS), "alias", "provider"],
      registers: [registry],
      collect,
    }),
    /** Registers async work to run before every scrape (reading shared state). */
    onScrapeAsync(flush: () => Promise<void>) {
      asyncBeforeScrape.push(flush);
    },
    inFlight,
    inFlightGauge: new Gauge({
      name: "tollgate_requests_in_flight",
      help: "Requests (streams included) not yet finished.",
      registers: [registry],
      collect() {
        this.set(inFlight.count);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
