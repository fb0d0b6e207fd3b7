import { randomUUID } from "node:crypto";
import { access } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Hono } from "hono";
import type { Redis } from "ioredis";
import { BudgetStore } from "./admin/budget-store.js";
import { type AlertEvent, AlertSender } from "./alerts/index.js";
import { AnomalyDetector } from "./anomaly/index.js";
import { isAuthEnabled, KeyService, masterKeyFrom, syncDeclared } from "./auth/index.js";
import { BudgetService } from "./budget/service.js";
import { MemoryCacheStore } from "./cache/memory-store.js";
import { PersistedSemanticEntries } from "./cache/persisted.js";
import { type Embedder, OnnxEmbedder, OnnxModelError, RemoteEmbedder } from "./cache/semantic/index.js";
import { SemanticTier } from "./cache/semantic-tier.js";
import type { CacheStore } from "./cache/store.js";
import { ConfigError, type LoadedConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { CostEngine } from "./cost/engine.js";
import { GatewayError } from "./errors.js";
import { BreachAlerts } from "./forecast/breach-alerts.js";
import { ForecastService } from "./forecast/index.js";
import { AnomalyWatch } from "./insights/anomaly-watch.js";
import { createLogger, type Logger } from "./log.js";
import type { HistogramSeries } from "./metrics/histogram.js";
import { createMetrics, type Metrics } from "./metrics/index.js";
import { RequestContext } from "./pipeline/context.js";
import { buildPipeline, type Pipeline } from "./pipeline/index.js";
import { budgetCheck } from "./pipeline/stages/budget.js";
import { bothObservers } from "./pipeline/stages/call.js";
import { rateLimitCheck } from "./pipeline/stages/rate-limit.js";
import { createPricing, type Pricing, pricingOptionsFromConfig, unknownPrices } from "./pricing/index.js";
import { createProviderClient } from "./providers/registry.js";
import type { ProviderClient } from "./providers/types.js";
import { RateLimits } from "./ratelimit/index.js";
import { PriorityGate } from "./resilience/priority.js";
import { createRouting, type Routing } from "./routing/setup.js";
import { buildRoutingTable, type RoutingTable } from "./routing/table.js";
import { genAiMetrics } from "./server/genai-metrics.js";
import { createRequestListener } from "./server/listener.js";
import { createModelCallHandler } from "./server/model-call.js";
import { createHttpApp } from "./server/routes.js";
import type { RequestTracing } from "./server/trace.js";
import { redisAlertClaim } from "./state/alert-claims.js";
import { RedisCacheStore } from "./state/cache-redis.js";
import { MemoryCounters } from "./state/memory.js";
import { closeRedisClient, createRedisClient, RedisCounters } from "./state/redis.js";
import { openStore, type Store } from "./store/index.js";
import {
  AccuracyTracker,
  CompletionPredictor,
  JsonFileRatioStore,
  PromptTokenEstimator,
  TokenCalibrator,
} from "./tokens/index.js";
import { captureContent, tracingEnabled } from "./tracing/config.js";
import { firstRecordAt, scopeMinutes, UsageLedger } from "./usage/index.js";

export interface Gateway {
  /** Every route, for app.request() and non-node runtimes. */
  readonly app: Hono;
  /** What a node http server runs: the model-call fast lane, then hono. */
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  readonly logger: Logger;
  readonly services: Services;
  /** Requests (streams included) not yet finished. */
  inFlight(): number;
  /** Flushes the usage ledger and closes pools and stores; call after the HTTP server stopped taking requests. */
  close(): Promise<void>;
}

/** The long-lived services, for the HTTP API and for tests. */
export interface Services {
  table: RoutingTable;
  pricing: Pricing;
  engine: CostEngine;
  store: Store;
  ledger: UsageLedger;
  metrics: Metrics;
  keys: KeyService;
  routing: Routing;
  budgets: BudgetService;
  /** The anomaly watch, when anomaly.enabled. */
  anomalies?: AnomalyWatch;
}

export interface GatewayOptions {
  logger?: Logger;
  /** Overrides process.env for DATABASE_URL and TOLLGATE_DATA_DIR (tests). */
  env?: NodeJS.ProcessEnv;
  /** Traces through these span processors, whatever the environment says (tests: an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

/** Wires every service from the config. The one place that chooses memory or Redis, embedded SQL or Postgres. */
export async function createGateway(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const { config } = loaded;
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger(config.server.log_level);
  for (const warning of loaded.warnings) logger.warn(warning);
  const dataDir = env.TOLLGATE_DATA_DIR || config.server.data_dir;

  const clients = new Map<string, ProviderClient>();
  for (const [name, provider] of Object.entries(config.providers)) {
    const client = createProviderClient(name, provider, config.server.timeouts, loaded.missingKeys.get(name));
    if (client.unavailable) logger.warn({ provider: name }, client.unavailable);
    clients.set(name, client);
  }
  const table = buildRoutingTable(config, clients);
  const metrics = createMetrics({ spendLabels: config.metrics.spend_labels });
  const genAi = genAiMetrics(metrics, config.metrics);
  const tracing = await openTracing(config, env, options.spanProcessors, logger);

  const pricing = await openPricing(
    config,
    await pricingFiles(config.pricing.files, loaded.file),
    dataDir,
    metrics,
    logger,
  );
  const unpriced = unknownPrices(pricing, deploymentModels(config));
  if (unpriced.length) {
    logger.warn(
      { models: unpriced, unknown_price: config.pricing.unknown_price },
      `no price known for ${unpriced.join(", ")}: requests to them are ${config.pricing.unknown_price === "block" ? "refused (403 price_unknown)" : "served, their cost recorded as unknown"}; add a price in pricing/overrides.yaml or the deployment's price`,
    );
  }
  const calibrator = new TokenCalibrator({ store: new JsonFileRatioStore(join(dataDir, "token-ratios.json")) });
  await calibrator.load();
  // prom-client hashes the labels on every labels() call: the child per (model, metric) is kept instead.
  const errorSeries = new Map<string, { observe(v: number): void }>();
  const accuracy = new AccuracyTracker(({ model, metric, relativeError }) => {
    const key = `${metric}\u0000${model}`;
    let series = errorSeries.get(key);
    if (series === undefined) {
      series = metrics.predictionError.labels({ model, metric });
      errorSeries.set(key, series);
    }
    series.observe(relativeError);
  });
  const engine = new CostEngine(
    pricing,
    new PromptTokenEstimator({ calibrator }),
    new CompletionPredictor({
      upperQuantile: config.prediction.completion_quantile,
      defaultUpper: config.prediction.default_completion_tokens,
    }),
    accuracy,
  );

  const databaseUrl = config.usage.database_url || env.DATABASE_URL || undefined;
  const pgSchema = env.TOLLGATE_DB_SCHEMA || config.usage.database_schema;
  const store = openStore({
    databaseUrl,
    ...(pgSchema ? { pgSchema } : {}),
    sqlitePath: config.usage.sqlite_path ?? join(dataDir, "usage.db"),
    onError: (err) => logger.warn({ err: err.message }, "usage database connection error"),
  });
  const migrated = migrateWhenReachable(store, logger);
  await migrated.first; // an unreachable database does not hold up the start: records wait in the spool
  const ledger = await UsageLedger.open({
    store,
    spoolDir: config.usage.spool_dir ?? join(dataDir, "spool"),
    spoolMaxBytes: config.usage.spool_max_bytes,
    flushIntervalMs: config.usage.flush_interval_ms,
    batchSize: config.usage.batch_size,
    log: logger,
    observer: {
      written: (n) => metrics.ledgerRecords.labels({ state: "written" }).inc(n),
      spooled: (n) => metrics.ledgerRecords.labels({ state: "spooled" }).inc(n),
      replayed: (n) => metrics.ledgerRecords.labels({ state: "replayed" }).inc(n),
      dropped: (n) => metrics.ledgerRecords.labels({ state: "dropped" }).inc(n),
    },
  });
  metrics.onScrape(() => {
    metrics.ledgerPending.set(ledger.pending());
    for (const [source, age] of Object.entries(pricing.priceAges())) metrics.priceAge.labels({ source }).set(age);
  });

  // Keys live in the same store as the ledger; with Redis, changes reach every replica's cache at once.
  const redisUrl = config.state.redis_url || env.REDIS_URL || undefined;
  const keys = await KeyService.open({ store, logger, ...(redisUrl ? { redisUrl } : {}) });
  const masterKey = masterKeyFrom(config.auth, env);
  let authEnabled: boolean;
  try {
    const declared = await syncDeclared(keys, config.auth, env);
    for (const warning of declared.warnings) logger.warn(warning);
    authEnabled = await isAuthEnabled(keys, masterKey);
  } catch (err) {
    // The store is unreachable: keys cannot be read now, so auth stays on if anything asks for it (fail closed).
    authEnabled = masterKey !== undefined || config.auth.keys.length > 0;
    logger.error({ err: (err as Error).message }, "keys not synced: the database is unreachable");
  }
  if (!authEnabled) logger.warn("no API key is configured and no master key is set: the gateway is open to anyone");
  // One connection for rate limits and budgets, auto-pipelined: a request's limiter calls and its budget
  // reservation, started together by the admit stage, leave in one write and come back in one read.
  const redis = redisUrl
    ? createRedisClient(redisUrl, { commandTimeout: 500, enableAutoPipelining: true }).on("error", () => {})
    : undefined;
  const rateLimits = new RateLimits({
    ...(redis ? { redis } : {}),
    burstWindowSec: config.rate_limits.burst_window_s,
  });

  const budgetStore = new BudgetStore(store);
  const counters = redis ? new RedisCounters({ client: redis }) : new MemoryCounters();
  // Connected before the first request: a request that blocks the loop (the first tokenizer load) would otherwise
  // outlast the connect timeout, and requests would fail closed until the reconnect. Down Redis does not hold the start.
  if (counters instanceof RedisCounters && !(await counters.ready())) {
    logger.warn("Redis unreachable at start: hard budgets fail closed until it is back (budgets.redis_down)");
  }
  const budgets = new BudgetService({
    counters,
    config: config.budgets,
    observer: {
      breached: (scope, level) => metrics.budgetBreaches.labels({ scope, level }).inc(),
    },
  });
  // Declared budgets plus those made through the admin API; reloaded when any replica changes one.
  const loadBudgets = async () => {
    try {
      const stored = await budgetStore.list();
      budgets.setDefinitions([...config.budgets.definitions, ...stored.map((b) => b.definition)]);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, "stored budgets not loaded; declared ones apply");
    }
  };
  await loadBudgets();
  keys.subscribe((event) => {
    if (event.kind === "budgets") void loadBudgets();
  });
  const alerts = config.budgets.alerts.length
    ? new AlertSender({
        targets: config.budgets.alerts,
        // With Redis, one replica sends each alert; without, each process dedupes its own.
        ...(redis ? { claim: redisAlertClaim(redis) } : {}),
        onResult: (r) => {
          if (!r.ok) logger.warn({ url: r.url, attempts: r.attempts }, "budget alert not delivered");
        },
      })
    : undefined;
  metrics.onScrapeAsync(async () => {
    for (const u of await budgets.utilization()) metrics.budgetUtilization.labels({ scope: u.scope }).set(u.fraction);
  });

  const routing = await createRouting({ config, table, pricing, redisUrl, timezone: config.budgets.timezone });
  routing.health.onBreakerStateChange((id, state) =>
    metrics.circuitState.labels({ deployment: id }).set(state === "open" ? 2 : state === "half-open" ? 1 : 0),
  );
  // Embeddings for the semantic cache through one of our own aliases: a pipeline without keys, limits or cache,
  // so the calls are routed, retried and recorded in the ledger like any other (key: none).
  const embedVia = config.cache.semantic.embedder;
  // One routing setup for the client pipeline and the internal one (same router, rules, health, metrics).
  const routingDeps = {
    router: routing.router,
    rules: routing.rules,
    resilience: config.resilience,
    regionHeader: config.routing.region_header,
    defaultRegion: config.routing.region,
    observer: {
      retried: (alias: string, kind: string) => metrics.retries.labels({ alias, kind }).inc(),
      fellBack: (from: string, to: string, kind: string) => metrics.fallbacks.labels({ from, to, kind }).inc(),
      attempt: upstreamHistograms(metrics),
    },
  };
  let embedder: Embedder | undefined;
  if (embedVia?.kind === "onnx") {
    const { model_path: path, pooling, dtype, dimensions } = embedVia;
    const modelPath = isAbsolute(path) ? path : join(dirname(loaded.file), path);
    embedder = await OnnxEmbedder.load({ modelPath, pooling, dtype, dimensions }).catch((err: Error) => {
      throw err instanceof OnnxModelError
        ? new ConfigError([`${loaded.file}: cache.semantic.embedder.model_path: ${err.message}`])
        : err;
    });
    logger.info({ embedder: embedder.name, dimensions: embedder.dimensions }, "semantic cache: local ONNX model");
  } else if (embedVia) {
    embedder = new RemoteEmbedder(
      embedVia.alias,
      embedVia.dimensions,
      embedThrough(
        buildPipeline({ table, cost: { engine, ledger, unknownPrice: "allow" }, routing: routingDeps }),
        embedVia.alias,
      ),
    );
  }
  const cache = openCache(config, redis, metrics, store, embedder);
  if (cache?.semantic) {
    const restored = await cache.semantic.restore(cache.store).catch((err: Error) => {
      logger.warn({ err: err.message }, "semantic cache entries not restored");
      return 0;
    });
    if (restored > 0) logger.info({ entries: restored }, "semantic cache restored");
  }
  const services: Services = { table, pricing, engine, store, ledger, metrics, keys, budgets, routing };
  const pipeline = buildPipeline({
    table,
    cost: { engine, ledger, unknownPrice: config.pricing.unknown_price },
    // Open mode has no identity: no key limits, no budgets to charge, so those stages are not on the path.
    ...(authEnabled
      ? {
          keys,
          admission: [rateLimitCheck(rateLimits, config.rate_limits), budgetCheck(budgets, table, logger, alerts)],
        }
      : {}),
    gates: priorityGates(config),
    ...(cache ? { cache } : {}),
    routing: routingDeps,
    attempts: tracing ? bothObservers(genAi.attempts, tracing.attempts) : genAi.attempts,
  });
  const handleModelCall = createModelCallHandler({
    pipeline,
    bodyLimit: config.server.body_limit,
    metrics,
    logger,
    genAi,
    ...(tracing ? { tracing } : {}),
  });
  // Read per request: a budget made on another replica counts before its reload event lands.
  const budgetDefinitions = async () => [
    ...config.budgets.definitions,
    ...(await budgetStore.list().catch(() => [])).map((b) => b.definition),
  ];
  const forecasts = new ForecastService(store, budgetDefinitions, { timeZone: config.budgets.timezone });
  let anomalies: AnomalyWatch | undefined;
  if (config.anomaly.enabled) {
    const brakeAll = config.anomaly.brake_on_critical;
    anomalies = new AnomalyWatch({
      source: (from, to) => scopeMinutes(store, from, to),
      firstRecordAt: (from) => firstRecordAt(store, from),
      detector: new AnomalyDetector({
        config: config.anomaly,
        brakeOnCritical: (scope) => brakeAll || budgets.wantsAnomalyBrake(scope),
      }),
      ...(alerts ? { alert: (event: AlertEvent) => alerts.send(event) } : {}),
      brake: (scope) => budgets.brakeOnAnomaly(scope, brakeAll),
      log: logger,
    });
    anomalies.start(ANOMALY_TICK_MS);
    services.anomalies = anomalies;
  }
  const breachAlerts = alerts
    ? new BreachAlerts(
        forecasts,
        (event) => alerts.send(event),
        (err) => logger.warn({ err: (err as Error).message }, "forecast refit failed"),
      )
    : undefined;
  if (config.budgets.forecast_alert_interval_s > 0)
    breachAlerts?.start(config.budgets.forecast_alert_interval_s * 1000);
  const app = createHttpApp({
    table,
    metrics,
    cost: { table, pricing, engine, store, ...(authEnabled ? { keys, masterKey } : {}) },
    admin: {
      keys,
      store,
      masterKey,
      masterKeyEnv: config.auth.master_key_env,
      onBudgetsChanged: () => void loadBudgets(),
      brakes: { list: () => budgets.brakes(), reset: (scope) => budgets.resetBrake(scope) },
    },
    readiness: [],
    routing: { router: routing.router, rules: routing.rules, pipeline },
    forecasts: { forecasts, ...(authEnabled ? { keys, masterKey } : {}) },
    ...(anomalies
      ? {
          anomalies: {
            watch: anomalies,
            teamKeyIds: async (teamId: string) => (await keys.listKeys({ teamId })).map((k) => k.id),
            ...(authEnabled ? { keys, masterKey } : {}),
          },
        }
      : {}),
    recommendations: {
      store,
      table,
      pricing,
      config,
      budgetDefinitions,
      utilization: () => budgets.utilization(),
      ...(authEnabled ? { keys, masterKey } : {}),
    },
    dashboard: {
      store,
      timezone: config.budgets.timezone,
      definitions: budgetDefinitions,
      forecasts,
      recommendations: true,
      brakes: () => budgets.brakes(),
      teamKeyIds: async (teamId) => (await keys.listKeys({ teamId })).map((k) => k.id),
      keyNames: async (teamId) =>
        new Map((await keys.listKeys(teamId === undefined ? {} : { teamId })).map((k) => [k.id, k.name])),
      teamIds: async () => (await keys.tenancy.listTeams()).map((t) => t.id),
      routing: routing.router,
      ...(authEnabled ? { keys, masterKey } : {}),
    },
    handleModelCall,
    onUnhandledError: (err, path) => logger.error({ err, path }, "unhandled error"),
  });

  return {
    app,
    listener: createRequestListener(app, handleModelCall, logger),
    inFlight: () => metrics.inFlight.count,
    logger,
    services,
    async close() {
      pricing.stop();
      breachAlerts?.stop();
      anomalies?.stop();
      await Promise.allSettled([...clients.values()].map((c) => c.close()));
      await migrated.stop();
      await Promise.allSettled([
        rateLimits.close(),
        keys.close(),
        counters.close(),
        alerts?.close(),
        routing.close(),
        cache?.store.close(),
      ]);
      if (redis) await closeRedisClient(redis);
      await ledger.close(); // flushes every record (to the database, or the spool), then closes the store
      await engine.estimator.close();
      await tracing?.shutdown(); // exports the spans still batched
    },
  };
}

/** Traces when an OTLP endpoint is set (or a test passes span processors); only then is the SDK loaded. */
async function openTracing(
  config: Config,
  env: NodeJS.ProcessEnv,
  spanProcessors: SpanProcessor[] | undefined,
  logger: Logger,
): Promise<RequestTracing | undefined> {
  if (spanProcessors === undefined && !tracingEnabled(env)) return undefined;
  const { startRequestTracing } = await import("./server/trace.js");
  const capture = captureContent(config.tracing, env);
  if (spanProcessors === undefined) logger.info({ capture_content: capture }, "tracing on (OTLP/HTTP)");
  return startRequestTracing({ config, env, captureContent: capture, ...(spanProcessors ? { spanProcessors } : {}) });
}

/** The detector judges whole minutes. */
const ANOMALY_TICK_MS = 60_000;

const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Relative pricing files are read beside the config file, else from the package (which ships pricing/). */
async function pricingFiles(files: readonly string[], configFile: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) {
    if (isAbsolute(file)) {
      out.push(file);
      continue;
    }
    const beside = join(dirname(configFile), file);
    const shipped = join(PACKAGE_ROOT, file);
    out.push((await exists(beside)) || !(await exists(shipped)) ? beside : shipped);
  }
  return out;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function openPricing(
  config: Config,
  files: string[],
  dataDir: string,
  metrics: Metrics,
  logger: Logger,
): Promise<Pricing> {
  const deploymentOverrides: Record<string, NonNullable<Config["models"][string]["deployments"][number]["price"]>> = {};
  for (const alias of Object.values(config.models)) {
    for (const d of alias.deployments) if (d.price) deploymentOverrides[`${d.provider}/${d.model}`] = d.price;
  }
  const pricingConfig = { ...config.pricing, files };
  // The schema's default lives under the default data dir; a moved data dir takes its price cache along.
  if (pricingConfig.cache_dir === ".tollgate/pricing-cache") pricingConfig.cache_dir = join(dataDir, "pricing-cache");
  let stopped = false; // a refresh still running at shutdown reports nothing after it
  const pricing = await createPricing(
    pricingOptionsFromConfig(pricingConfig, {
      deploymentOverrides,
      observer: {
        updateSucceeded: (source, seconds) => {
          metrics.pricingUpdateSuccess.labels({ source }).inc();
          metrics.pricingUpdateDuration.labels({ source }).observe(seconds);
        },
        updateFailed: (source, reason, seconds) => {
          if (stopped) return;
          metrics.pricingUpdateFailure.labels({ source, reason: "failed" }).inc();
          metrics.pricingUpdateDuration.labels({ source }).observe(seconds);
          logger.warn({ source, reason }, "price refresh failed; the last good prices stay in use");
        },
        heldBack: (source, detail) => {
          if (stopped) return;
          metrics.pricingUpdateFailure.labels({ source, reason: "held_back" }).inc();
          logger.warn({ source, detail }, "price refresh held back: a price moved beyond pricing.max_change_factor");
        },
      },
    }),
  );
  if (config.pricing.sources.some((s) => s.enabled)) pricing.start();
  const stop = pricing.stop.bind(pricing);
  pricing.stop = () => {
    stopped = true;
    stop();
  };
  return pricing;
}

/** A PriorityGate per deployment that sets max_concurrency. */
function priorityGates(config: Config): Map<string, PriorityGate> {
  const gates = new Map<string, PriorityGate>();
  for (const alias of Object.values(config.models)) {
    for (const d of alias.deployments) {
      const id = `${d.provider}/${d.model}`;
      if (d.max_concurrency && !gates.has(id)) {
        gates.set(id, new PriorityGate({ maxConcurrent: d.max_concurrency, maxQueue: d.max_queue ?? 100 }));
      }
    }
  }
  return gates;
}

function deploymentModels(config: Config): { provider: string; model: string }[] {
  const out: { provider: string; model: string }[] = [];
  for (const alias of Object.values(config.models)) {
    for (const d of alias.deployments) {
      const type = config.providers[d.provider]?.type;
      if (type && type !== "mock") out.push({ provider: type, model: d.model });
    }
  }
  return out;
}

/** Runs the store's migrations now, or, while the database is unreachable, every few seconds until they pass. */
function migrateWhenReachable(store: Store, logger: Logger): { first: Promise<void>; stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const attempt = () => {
    running = store.migrate().then(
      () => {
        if (timer) logger.info("usage database reachable again: migrations done");
      },
      (err: Error) => {
        logger.error({ err: err.message }, "usage database unreachable: records are spooled to disk until it is back");
        if (!stopped) {
          timer = setTimeout(attempt, 5000);
          timer.unref();
        }
      },
    );
  };
  attempt();
  return {
    first: running,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/** Per-attempt latency histograms, with each (deployment, kind, outcome) child bound once, not per request. */
function upstreamHistograms(metrics: Metrics) {
  const children = new Map<object, HistogramSeries[]>();
  return (d: object & { id: string }, ok: boolean, latencyMs: number, stream: boolean) => {
    let four = children.get(d);
    if (four === undefined) {
      four = [];
      for (const histogram of [metrics.upstreamLatency, metrics.upstreamTtft]) {
        for (const outcome of ["ok", "error"]) four.push(histogram.bind({ deployment: d.id, outcome }));
      }
      children.set(d, four);
    }
    (four[(stream ? 2 : 0) + (ok ? 0 : 1)] as HistogramSeries).observe(latencyMs / 1000);
  };
}

/** The response cache when any alias uses it: in this process, or in Redis (on the shared connection) with REDIS_URL. */
function openCache(
  config: Config,
  redis: Redis | undefined,
  metrics: Metrics,
  sql: Store,
  embedder: Embedder | undefined,
) {
  const aliases = new Map(Object.entries(config.models).map(([alias, def]) => [alias, def.cache]));
  const used = [...aliases.values()].some((a) => a.enabled ?? config.cache.enabled);
  if (!used) return undefined;
  const tier = redis ? "redis" : "memory";
  const store: CacheStore = redis
    ? new RedisCacheStore({ client: redis, prefix: "tollgate:cache" })
    : new MemoryCacheStore({ maxBytes: config.cache.max_bytes });
  const semanticUsed = [...aliases.values()].some((a) => a.semantic && (a.enabled ?? config.cache.enabled));
  const semantic = semanticUsed
    ? new SemanticTier({
        threshold: config.cache.semantic.threshold,
        verifyShare: config.cache.semantic.verify_share,
        errorRate: config.cache.semantic.error_rate,
        persisted: new PersistedSemanticEntries(sql),
        hnswAt: config.cache.semantic.hnsw_at,
        maxEntries: config.cache.semantic.max_entries,
        ...(embedder ? { embedder } : {}),
      })
    : undefined;
  metrics.onScrapeAsync(async () => {
    if (semantic) metrics.cacheFalseHitRate.set(semantic.cache.estimatedFalseHitRate());
    const stats = await store.stats();
    metrics.cacheEntries.labels({ tier }).set(stats.entries);
    metrics.cacheBytes.labels({ tier }).set(stats.bytes);
    metrics.cacheEvictions.labels({ tier }).set(stats.evictions);
  });
  // Counted in plain fields per request and handed to prom-client when scraped, as the request counters are.
  const results = ["hit", "miss", "bypass"] as const;
  const requests = new Float64Array(2 * results.length); // [exact..., semantic...]
  const saved = { usd: 0, seconds: 0 };
  metrics.onScrape(() => {
    requests.forEach((n, i) => {
      if (n === 0) return;
      const result = results[i % results.length] as (typeof results)[number];
      metrics.cacheRequests.labels({ tier: i < results.length ? "exact" : "semantic", result }).inc(n);
      requests[i] = 0;
    });
    if (saved.usd > 0) metrics.cacheSavedUsd.inc(saved.usd);
    if (saved.seconds > 0) metrics.cacheSavedSeconds.inc(saved.seconds);
    saved.usd = saved.seconds = 0;
  });
  return {
    store,
    config: config.cache,
    aliases,
    ...(semantic ? { semantic } : {}),
    observer: {
      request: (result: "hit" | "miss" | "bypass", tier: "exact" | "semantic" = "exact") => {
        (requests[(tier === "semantic" ? results.length : 0) + results.indexOf(result)] as number)++;
      },
      saved: (usd: number, seconds: number) => {
        saved.usd += usd;
        saved.seconds += seconds;
      },
    },
  };
}

/** One /v1/embeddings call through `pipeline` for `alias`, answered with the first vector. */
function embedThrough(pipeline: Pipeline, alias: string): (text: string) => Promise<readonly number[]> {
  return async (text) => {
    const ctx = new RequestContext(`cache-embed-${randomUUID()}`, "embeddings", performance.now());
    const request = { model: alias, input: text };
    ctx.embeddings = request;
    ctx.rawBody = JSON.stringify(request);
    ctx.alias = alias;
    pipeline.begin(ctx);
    try {
      await pipeline.run(ctx);
    } catch (err) {
      ctx.finish("error", err instanceof GatewayError ? err : undefined);
      throw err;
    }
    const body = ctx.result?.body;
    ctx.finish("completed");
    const text2 = typeof body === "string" ? body : Buffer.from(body as Uint8Array).toString("utf8");
    const parsed = JSON.parse(text2) as { data?: { embedding?: unknown }[] };
    const vector = parsed.data?.[0]?.embedding;
    if (!Array.isArray(vector)) throw new Error(`alias ${alias} answered no float embedding`);
    return vector as number[];
  };
}
