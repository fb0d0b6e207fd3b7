import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import type { RequestContext } from "../pipeline/context.js";

interface Series {
  requests: { inc(): void };
  duration: { observe(value: number): void };
  firstByte: { observe(value: number): void };
  promptTokens: { inc(value: number): void };
  completionTokens: { inc(value: number): void };
}

/** Metrics and the one log line per request, written when the request is really over. */
export function observeRequest(metrics: Metrics, logger: Logger) {
  // prom-client hashes label objects on every call; bound children, cached per label set, skip that.
  // The set is bounded: aliases and deployments come from the config, unknown aliases are "unknown".
  const cache = new Map<string, Series>();
  const seriesFor = (ctx: RequestContext, alias: string, deployment: string): Series => {
    const status = String(ctx.status);
    const outcome = ctx.outcome ?? "error";
    const key = `${ctx.endpoint}|${alias}|${deployment}|${status}|${outcome}|${ctx.stream}`;
    let series = cache.get(key);
    if (series === undefined) {
      const labels = { endpoint: ctx.endpoint, alias, deployment };
      series = {
        requests: metrics.requests.labels({ ...labels, status, outcome }),
        duration: metrics.duration.labels(labels),
        firstByte: metrics.firstByte.labels({ ...labels, stream: String(ctx.stream) }),
        promptTokens: metrics.tokens.labels({ alias, deployment, kind: "prompt" }),
        completionTokens: metrics.tokens.labels({ alias, deployment, kind: "completion" }),
      };
      cache.set(key, series);
    }
    return series;
  };

  const record = (ctx: RequestContext) => {
    metrics.inFlight.dec();
    const alias = ctx.route?.alias ?? "unknown";
    const deployment = ctx.deployment?.id ?? "none";
    const series = seriesFor(ctx, alias, deployment);
    series.requests.inc();
    series.duration.observe((ctx.durationMs ?? 0) / 1000);
    if (ctx.firstByteMs !== undefined) series.firstByte.observe(ctx.firstByteMs / 1000);
    const usage = ctx.usage;
    if (usage) {
      series.promptTokens.inc(usage.prompt_tokens);
      series.completionTokens.inc(usage.completion_tokens ?? 0);
    }
    const error = ctx.error;
    logger.info(
      {
        request_id: ctx.requestId,
        endpoint: ctx.endpoint,
        alias: ctx.alias || undefined,
        deployment: ctx.deployment?.id,
        stream: ctx.stream,
        status: ctx.status,
        outcome: ctx.outcome,
        latency_ms: round(ctx.durationMs),
        ttfb_ms: round(ctx.firstByteMs),
        prompt_tokens: usage?.prompt_tokens,
        completion_tokens: usage?.completion_tokens,
        error_code: error ? (error.code ?? error.type) : undefined,
        error: error && ctx.status >= 500 ? error.message : undefined,
      },
      "request",
    );
  };
  return {
    start(ctx: RequestContext) {
      metrics.inFlight.inc();
      ctx.whenDone(record);
    },
  };
}

const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 100) / 100);
