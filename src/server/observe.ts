import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import type { RequestContext } from "../pipeline/context.js";

/** Metrics and the one log line per request, written when the request is really over. */
export function observeRequest(metrics: Metrics, logger: Logger) {
  const record = (ctx: RequestContext) => {
    metrics.inFlight.dec();
    const alias = ctx.route?.alias ?? "unknown"; // unknown aliases must not grow label cardinality
    const deployment = ctx.deployment?.id ?? "none";
    const seconds = (ctx.durationMs ?? 0) / 1000;
    const labels = { endpoint: ctx.endpoint, alias, deployment };
    metrics.requests.inc({ ...labels, status: String(ctx.status), outcome: ctx.outcome ?? "error" });
    metrics.duration.observe(labels, seconds);
    if (ctx.firstByteMs !== undefined) {
      metrics.firstByte.observe({ ...labels, stream: String(ctx.stream) }, ctx.firstByteMs / 1000);
    }
    const usage = ctx.usage;
    if (usage) {
      metrics.tokens.inc({ alias, deployment, kind: "prompt" }, usage.prompt_tokens);
      metrics.tokens.inc({ alias, deployment, kind: "completion" }, usage.completion_tokens ?? 0);
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
