import { createLineWriter, type Logger } from "../log.js";
import type { HistogramSeries } from "../metrics/histogram.js";
import type { Metrics } from "../metrics/index.js";
import type { RequestContext } from "../pipeline/context.js";
import type { GenAiMetrics } from "./genai-metrics.js";

interface Series {
  requests: { inc(value: number): void };
  duration: HistogramSeries;
  firstByte: HistogramSeries;
  promptTokens: { inc(value: number): void };
  completionTokens: { inc(value: number): void };
  cost: { inc(value: number): void };
  /** Counted here and flushed to prom-client at scrape time. */
  pending: { requests: number; prompt: number; completion: number; cost: number };
}

const OUTCOMES = ["completed", "upstream_error", "client_abort", "error"] as const;

/**
 * Values kept per (owner, key): the owner is the deployment object (it implies the alias), or the alias label
 * when there is none (a cache hit, a refusal before routing). No key string is built per request.
 */
class PerOwner<V, K = number> {
  private readonly byOwner = new Map<object | string, Map<K, V>>();

  get(owner: object | string, key: K): V | undefined {
    return this.byOwner.get(owner)?.get(key);
  }

  set(owner: object | string, key: K, value: V): V {
    let byKey = this.byOwner.get(owner);
    if (byKey === undefined) {
      byKey = new Map();
      this.byOwner.set(owner, byKey);
    }
    byKey.set(key, value);
    return value;
  }

  *values(): IterableIterator<V> {
    for (const byKey of this.byOwner.values()) yield* byKey.values();
  }
}

/** Metrics and the one log line per request, written when the request is really over. */
export function observeRequest(metrics: Metrics, logger: Logger, genAi?: GenAiMetrics) {
  // prom-client hashes label objects on every call; bound children and bound histogram series, cached per label
  // set, skip that. The sets are bounded: aliases and deployments come from the config, and a request with no
  // route is "unknown" unless the cache answered it (its alias is then a configured, cached one).
  const series = new PerOwner<Series>();
  // The histograms carry fewer labels: one series per (owner, endpoint, stream), shared by statuses and outcomes.
  const histograms = new PerOwner<Pick<Series, "duration" | "firstByte">>();
  const writeLine = createLineWriter(logger);
  const seriesFor = (ctx: RequestContext, alias: string, deployment: string): Series => {
    const owner = ctx.deployment ?? alias;
    const shape = (ctx.endpoint === "chat" ? 2 : 0) + (ctx.stream ? 1 : 0);
    const outcome = ctx.outcome ?? "error";
    const key = ctx.status * 64 + OUTCOMES.indexOf(outcome) * 4 + shape;
    const known = series.get(owner, key);
    if (known !== undefined) return known;
    const labels = { endpoint: ctx.endpoint, alias, deployment };
    const timing =
      histograms.get(owner, shape) ??
      histograms.set(owner, shape, {
        duration: metrics.duration.bind(labels),
        firstByte: metrics.firstByte.bind({ ...labels, stream: String(ctx.stream) }),
      });
    return series.set(owner, key, {
      requests: metrics.requests.labels({ ...labels, status: String(ctx.status), outcome }),
      ...timing,
      promptTokens: metrics.tokens.labels({ alias, deployment, kind: "prompt" }),
      completionTokens: metrics.tokens.labels({ alias, deployment, kind: "completion" }),
      cost: metrics.costUsd.labels({ alias, deployment }),
      pending: { requests: 0, prompt: 0, completion: 0, cost: 0 },
    });
  };
  metrics.onScrape(() => {
    for (const { pending, requests, promptTokens, completionTokens, cost } of series.values()) {
      if (pending.requests) requests.inc(pending.requests);
      if (pending.prompt) promptTokens.inc(pending.prompt);
      if (pending.completion) completionTokens.inc(pending.completion);
      if (pending.cost) cost.inc(pending.cost);
      pending.requests = pending.prompt = pending.completion = pending.cost = 0;
    }
  });

  // Selections: one bound child per (first choice, strategy), the strategy names being few and fixed.
  // Selections: one bound child per (first choice, strategy), the strategy names being few and fixed; counted
  // in a plain field and handed over at scrape, as the request counters are.
  const selections = new PerOwner<{ child: { inc(value: number): void }; pending: number }, string>();
  metrics.onScrape(() => {
    for (const selection of selections.values()) {
      if (selection.pending) selection.child.inc(selection.pending);
      selection.pending = 0;
    }
  });
  const countSelection = (ctx: RequestContext) => {
    const first = ctx.candidates?.[0];
    const strategy = ctx.routeDecision?.strategy;
    if (first === undefined || strategy === undefined) return;
    const selection =
      selections.get(first, strategy) ??
      selections.set(first, strategy, {
        child: metrics.modelSelection.labels({ alias: ctx.route?.alias ?? "unknown", deployment: first.id, strategy }),
        pending: 0,
      });
    selection.pending++;
  };

  const record = (ctx: RequestContext) => {
    metrics.inFlight.count--;
    countSelection(ctx);
    const alias = ctx.route?.alias ?? (ctx.cacheDecision?.endsWith("hit") ? ctx.alias : "unknown");
    const deployment = ctx.deployment?.id ?? "none";
    const counted = seriesFor(ctx, alias, deployment);
    const pending = counted.pending;
    pending.requests++;
    counted.duration.observe((ctx.durationMs ?? 0) / 1000);
    if (ctx.stream && ctx.firstByteMs !== undefined) counted.firstByte.observe(ctx.firstByteMs / 1000);
    const usage = ctx.usage;
    if (usage) {
      pending.prompt += usage.prompt_tokens;
      pending.completion += usage.completion_tokens ?? 0;
    }
    if (ctx.costUsd !== undefined) pending.cost += ctx.costUsd;
    genAi?.record(ctx);
    writeLine(requestLine(ctx, usage));
  };
  return {
    start(ctx: RequestContext) {
      metrics.inFlight.count++;
      ctx.whenDone(record);
    },
  };
}

/** The request's log line, in pino's format (level label, epoch ms, service). */
export function requestLine(ctx: RequestContext, usage = ctx.usage): string {
  const error = ctx.error;
  // Request ids are checked tokens or UUIDs and configured names need no escaping: only the client's own
  // model string, when it named no alias, goes through JSON.stringify.
  let line = `{"level":"info","time":${Date.now()},"service":"tollgate","request_id":"${ctx.requestId}","endpoint":"${ctx.endpoint}"`;
  if (ctx.route) line += `,"alias":${ctx.route.aliasJson}`;
  else if (ctx.alias) line += `,"alias":${JSON.stringify(ctx.alias)}`;
  if (ctx.deployment) line += `,"deployment":${ctx.deployment.idJson}`;
  line += `,"stream":${ctx.stream},"status":${ctx.status},"outcome":"${ctx.outcome ?? "error"}"`;
  if (ctx.durationMs !== undefined) line += `,"latency_ms":${round(ctx.durationMs)}`;
  if (ctx.firstByteMs !== undefined) line += `,"ttfb_ms":${round(ctx.firstByteMs)}`;
  if (usage) line += `,"prompt_tokens":${usage.prompt_tokens},"completion_tokens":${usage.completion_tokens ?? 0}`;
  if (ctx.estimate?.priced) line += `,"cost_estimate_usd":${ctx.estimate.costUsd}`;
  if (ctx.costUsd !== undefined) line += `,"cost_usd":${ctx.costUsd}`;
  if (ctx.budgetDecision !== undefined) line += `,"budget":${JSON.stringify(ctx.budgetDecision)}`;
  const route = ctx.routeDecision;
  // The default strategy's reason says nothing a reader needs; the others say why this deployment.
  if (route !== undefined && route.strategy !== "weighted")
    line += `,"route":${JSON.stringify(`${route.strategy}: ${route.reason}`)}`;
  if (ctx.cacheDecision !== undefined) line += `,"cache":"${ctx.cacheDecision}"`;
  if (ctx.attemptLog !== undefined) line += `,"attempts":${JSON.stringify(ctx.attemptLog.join(", "))}`;
  if (error) {
    line += `,"error_code":${JSON.stringify(error.code ?? error.type)}`;
    if (ctx.status >= 500) line += `,"error":${JSON.stringify(error.message)}`;
  }
  return `${line},"msg":"request"}\n`;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
