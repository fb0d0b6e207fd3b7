import { z } from "zod";
import { AnomalyConfigSchema } from "../anomaly/config.js";
import { AuthConfigSchema } from "../auth/config.js";
import { BudgetsConfigSchema } from "../budget/definition.js";
import { AliasCacheSchema, CacheConfigSchema } from "../cache/config.js";
import { MetricsConfigSchema } from "../metrics/config.js";
import { DeploymentPriceSchema, PricingConfigSchema } from "../pricing/config.js";
import { AliasRoutingSchema, ResilienceConfigSchema, RoutingConfigSchema } from "../routing/config.js";
import { RulesSchema, ruleTargetIssues } from "../routing/rules.js";
import { TracingConfigSchema } from "../tracing/config.js";

/** Provider types this build can talk to; each has a folder under src/providers/. */
export const PROVIDER_TYPES = [
  "openai",
  "openai-compatible",
  "azure",
  "anthropic",
  "gemini",
  "bedrock",
  "mock",
] as const;

// Values that may arrive as strings through ${ENV} substitution.
const intLike = z.union([z.number().int(), z.string().regex(/^\d+$/, "expected an integer").transform(Number)]);
const positiveMs = intLike.pipe(z.number().int().positive());

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const byteSize = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)$/i, 'expected a size such as "4mb", "512kb" or a number of bytes')
    .transform((s) => {
      const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)$/i.exec(s) as RegExpExecArray;
      return Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] as string).toLowerCase()] as number));
    }),
]);

const TimeoutsSchema = z
  .object({
    connect_ms: positiveMs.default(10_000).describe("TCP/TLS connect timeout to an upstream."),
    first_byte_ms: positiveMs
      .default(120_000)
      .describe("How long to wait for an upstream's response headers (time to first byte)."),
    idle_ms: positiveMs
      .default(120_000)
      .describe("Longest silence allowed between two chunks of an upstream body (streams included)."),
  })
  .strict();

export const ServerSchema = z
  .object({
    host: z.string().default("0.0.0.0").describe("Interface to listen on."),
    port: intLike.pipe(z.number().int().min(0).max(65535)).default(8787).describe("Port to listen on."),
    body_limit: byteSize.default(4 * 1024 ** 2).describe('Largest request body accepted (413 beyond), e.g. "4mb".'),
    timeouts: TimeoutsSchema.prefault({}).describe("Upstream timeouts, overridable per provider."),
    shutdown_grace_ms: positiveMs
      .default(15_000)
      .describe("On SIGTERM, how long in-flight requests (streams included) may finish before exit."),
    log_level: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info")
      .describe("pino log level; one JSON line per request at info."),
    data_dir: z
      .string()
      .min(1)
      .default(".tollgate")
      .describe(
        "Where the embedded state lives (usage database, spool, price cache, learned token ratios); relative to the working directory. The TOLLGATE_DATA_DIR environment variable overrides it.",
      ),
  })
  .strict();

export const UsageSchema = z
  .object({
    database_url: z
      .string()
      .optional()
      .describe(
        "Postgres URL for the usage ledger (postgres://user@host:5432/db). Unset: the DATABASE_URL environment variable, else the embedded SQLite file.",
      ),
    database_schema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a SQL identifier")
      .optional()
      .describe(
        "Postgres schema for Tollgate's tables (keys, budgets, usage); default public. The TOLLGATE_DB_SCHEMA environment variable overrides it. One schema per deployment of Tollgate sharing a database.",
      ),
    sqlite_path: z
      .string()
      .optional()
      .describe('The embedded store\'s file; default <data_dir>/usage.db. ":memory:" keeps nothing.'),
    spool_dir: z
      .string()
      .optional()
      .describe("Where records wait on disk while the database is unreachable; default <data_dir>/spool."),
    spool_max_bytes: byteSize.default(256 * 1024 ** 2).describe('Largest the spool may grow, e.g. "256mb".'),
    flush_interval_ms: positiveMs.default(200).describe("Records are written in batches at least this often."),
    batch_size: intLike.pipe(z.number().int().positive()).default(500).describe("A batch is written once this full."),
  })
  .strict();

export const PredictionSchema = z
  .object({
    completion_quantile: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.95)
      .describe(
        "Without max_tokens, the completion tokens reserved are this quantile of the alias's (or key's) history.",
      ),
    default_completion_tokens: intLike
      .pipe(z.number().int().positive())
      .default(1024)
      .describe("Completion tokens assumed before an alias has any history and the request sets no max_tokens."),
  })
  .strict();

const RateLimitSchema = z
  .object({
    rpm: z.number().int().positive().optional().describe("Requests per minute."),
    tpm: z.number().int().positive().optional().describe("Tokens (prompt + completion) per minute."),
    burst_requests: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Extra requests allowed per burst window once the minute's are spent."),
    burst_tokens: z.number().int().positive().optional().describe("Extra tokens allowed per burst window."),
  })
  .strict();

export const RateLimitsSchema = z
  .object({
    teams: z.record(z.string().min(1), RateLimitSchema).default({}).describe("Limits per team id."),
    aliases: z
      .record(z.string().min(1), RateLimitSchema)
      .default({})
      .describe("Limits per alias, shared by every key that calls it."),
    burst_window_s: z.number().int().positive().default(600).describe("The window bursts are counted over."),
  })
  .strict();

export const StateSchema = z
  .object({
    redis_url: z
      .string()
      .optional()
      .describe(
        "Redis for state shared by every replica (budgets, rate limits, key invalidation). Unset: the REDIS_URL environment variable, else in-process state (one replica).",
      ),
  })
  .strict();

export const ProviderSchema = z
  .object({
    type: z.enum(PROVIDER_TYPES).describe("Wire format spoken by this provider."),
    base_url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        "API root including the version path, e.g. https://api.openai.com/v1. Required for openai-compatible; for azure the resource endpoint, e.g. https://my-resource.openai.azure.com.",
      ),
    api_key: z
      .string()
      .min(1)
      .optional()
      .describe("API key, normally a ${ENV_VAR} reference; may also come from secrets.yaml."),
    bearer_token: z
      .string()
      .min(1)
      .optional()
      .describe(
        "azure: a Microsoft Entra ID token sent as Authorization: Bearer, instead of api_key (sent as api-key).",
      ),
    api_version: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'expected an api-version such as "2024-10-21"')
      .optional()
      .describe("azure: the api-version query parameter (default 2024-10-21)."),
    stream_usage: z
      .boolean()
      .default(true)
      .describe(
        "OpenAI-format upstreams: ask for usage on every stream (stream_options.include_usage) and strip it from streams whose client did not ask, so every stream's tokens are recorded. Turn off for a server that rejects stream_options.",
      ),
    aws: z
      .object({
        access_key_id: z.string().min(1),
        secret_access_key: z.string().min(1),
        session_token: z.string().min(1).optional(),
      })
      .strict()
      .optional()
      .describe("bedrock: static AWS credentials; without them the standard AWS credential chain is used."),
    region: z
      .string()
      .optional()
      .describe("Where this provider serves from (used by geo routing); for bedrock, the AWS region (required)."),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe("Extra static headers sent upstream (e.g. OpenAI-Organization)."),
    max_connections: intLike
      .pipe(z.number().int().positive())
      .default(128)
      .describe("Keep-alive connection pool size to this provider's origin."),
    timeouts: TimeoutsSchema.partial().optional().describe("Overrides of server.timeouts for this provider."),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.type === "openai-compatible" || p.type === "azure") && !p.base_url) {
      ctx.addIssue({ code: "custom", path: ["base_url"], message: `expected a base_url for type ${p.type}` });
    }
    if (p.type === "bedrock" && !p.region) {
      ctx.addIssue({ code: "custom", path: ["region"], message: "expected an AWS region for type bedrock" });
    }
    if (p.type !== "bedrock" && p.aws !== undefined) {
      ctx.addIssue({ code: "custom", path: ["aws"], message: "expected aws only with type bedrock" });
    }
    if (p.type !== "azure" && (p.api_version !== undefined || p.bearer_token !== undefined)) {
      const key = p.api_version !== undefined ? "api_version" : "bearer_token";
      ctx.addIssue({ code: "custom", path: [key], message: `expected ${key} only with type azure` });
    }
  });

export const DeploymentSchema = z
  .object({
    provider: z.string().min(1).describe("Name of an entry under providers."),
    model: z.string().min(1).describe("Model name sent upstream."),
    weight: z.number().nonnegative().default(1).describe("Relative share of traffic under weighted routing."),
    region: z.string().optional().describe("Region of this deployment; defaults to the provider's region."),
    max_concurrency: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Calls in flight to this deployment at most; more wait, high priority keys first, and low ones are shed first (429) once max_queue wait.",
      ),
    max_queue: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("With max_concurrency: calls that may wait for this deployment (default 100)."),
    price: DeploymentPriceSchema.optional().describe(
      "Negotiated price of this deployment (USD per million tokens, or a discount); the rest comes from the price database.",
    ),
    quality: z
      .number()
      .min(0)
      .optional()
      .describe("Quality score for strategy quality; defaults to the model's score in pricing/models.yaml."),
    context_window: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Tokens this deployment accepts (prompt + completion); defaults to the price database's figure."),
  })
  .strict();

export const AliasSchema = z
  .object({
    description: z.string().optional().describe("Shown nowhere but in the file; for humans."),
    deployments: z.array(DeploymentSchema).min(1).describe("Where requests for this alias may go."),
    ...AliasRoutingSchema,
    cache: AliasCacheSchema.prefault({}).describe("Response cache for this alias."),
  })
  .strict();

export const ConfigSchema = z
  .object({
    server: ServerSchema.prefault({}).describe("Listener, limits, timeouts and logging."),
    providers: z.record(z.string().min(1), ProviderSchema).describe("Upstreams by name."),
    models: z
      .record(z.string().min(1), AliasSchema)
      .describe("Model aliases clients ask for, each mapping to one or more deployments."),
    usage: UsageSchema.prefault({}).describe("The usage ledger: one record per request."),
    pricing: PricingConfigSchema.prefault({}).describe(
      "Model prices: the bundled genai-prices database, live refresh, override files.",
    ),
    prediction: PredictionSchema.prefault({}).describe("Cost prediction before the call."),
    auth: AuthConfigSchema.prefault({}).describe(
      "Orgs, teams and keys declared in the file. With no key anywhere and no master key set, the gateway runs open (no auth).",
    ),
    budgets: BudgetsConfigSchema.prefault({}).describe("Budgets: time zone, Redis-down behaviour, declared budgets."),
    rate_limits: RateLimitsSchema.prefault({}).describe("rpm / tpm per team and per alias (per key: on the key)."),
    state: StateSchema.prefault({}).describe("Where shared state lives."),
    routing: RoutingConfigSchema.prefault({}).describe("Caller region, latency tracking and the adaptive bandit."),
    resilience: ResilienceConfigSchema.prefault({}).describe(
      "Retries, circuit breakers, cooldowns, outlier ejection and health checks, per deployment.",
    ),
    cache: CacheConfigSchema.prefault({}).describe(
      "Response cache (exact tier): in process, or in Redis shared by every replica when REDIS_URL is set.",
    ),
    anomaly: AnomalyConfigSchema.prefault({}).describe(
      "Spend and request-rate anomalies per budget scope (org, team, key): alerts through budgets.alerts, and the emergency brake where a budget's emergency.on_critical_anomaly (or brake_on_critical) says so.",
    ),
    metrics: MetricsConfigSchema.prefault({}).describe(
      "What /metrics breaks spend down by, and how many series it may keep (label cardinality).",
    ),
    tracing: TracingConfigSchema.prefault({}).describe(
      "OpenTelemetry traces (on when OTEL_EXPORTER_OTLP_ENDPOINT is set): one SERVER span per request, one CLIENT span per upstream attempt.",
    ),
    rules: RulesSchema.describe(
      "Ordered routing rules, first match wins: conditions on key, team, org, user, headers, tags, alias, predicted tokens or cost, tools, images, time; actions route_to, strategy, max_cost_usd, deny.",
    ),
  })
  .strict()
  .superRefine(
    (cfg, ctx) => {
      // Runs even when other fields failed, so one start-up reports every problem; hence the defensive checks.
      if (!isRecord(cfg.providers) || !isRecord(cfg.models)) return;
      if (Array.isArray(cfg.rules)) {
        for (const issue of ruleTargetIssues(cfg.rules, new Set(Object.keys(cfg.models)))) {
          ctx.addIssue({ code: "custom", ...issue });
        }
      }
      for (const [alias, def] of Object.entries(cfg.models)) {
        if (!isRecord(def) || !Array.isArray(def.deployments)) continue;
        let total = 0;
        def.deployments.forEach((d, i) => {
          if (!isRecord(d)) return;
          total += typeof d.weight === "number" ? d.weight : 1;
          if (typeof d.provider === "string" && !(d.provider in cfg.providers)) {
            ctx.addIssue({
              code: "custom",
              path: ["models", alias, "deployments", i, "provider"],
              message: `expected one of the providers (${Object.keys(cfg.providers).join(", ")}), got "${d.provider}"`,
            });
          }
        });
        if (isRecord(def.fallbacks)) {
          for (const [kind, list] of Object.entries(def.fallbacks)) {
            if (!Array.isArray(list)) continue;
            list.forEach((target, i) => {
              if (typeof target === "string" && !(target in cfg.models)) {
                ctx.addIssue({
                  code: "custom",
                  path: ["models", alias, "fallbacks", kind, i],
                  message: `expected one of the aliases under models, got "${target}"`,
                });
              }
            });
          }
        }
        if (total <= 0) {
          ctx.addIssue({
            code: "custom",
            path: ["models", alias, "deployments"],
            message: "expected at least one deployment with a weight above 0",
          });
        }
      }
    },
    { when: () => true },
  );

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const SecretsSchema = z.record(
  z.string(),
  z.looseObject({ api_key: z.string().min(1).describe("The provider's API key.") }),
);

export type Config = z.infer<typeof ConfigSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type ProviderConfig = z.infer<typeof ProviderSchema>;
export type ProviderType = ProviderConfig["type"];
export type DeploymentConfig = z.infer<typeof DeploymentSchema>;
export type AliasConfig = z.infer<typeof AliasSchema>;
export type Timeouts = z.infer<typeof TimeoutsSchema>;
export type { PricingConfig } from "../pricing/config.js";
export type RateLimitsConfig = z.infer<typeof RateLimitsSchema>;
export type UsageConfig = z.infer<typeof UsageSchema>;
export type PredictionConfig = z.infer<typeof PredictionSchema>;
