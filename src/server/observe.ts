import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import type { RequestContext } from "../pipeline/context.js";

/** Counts requests not yet finished (streams included), so shutdown can wait for them. */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.count;
  }

  add(): void {
    this.count++;
  }

  remove(): void {
    this.count--;
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves true when nothing is in flight, false if the timeout came first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/** Metrics and the one log line per request, written when the request is really over. */
export function observeRequest(metrics: Metrics, logger: Logger, inFlight: InFlight) {
  const record = (ctx: RequestContext) => {
    inFlight.remove();
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
      inFlight.add();
      metrics.inFlight.inc();
      ctx.whenDone(record);
    },
  };
}

const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 100) / 100);
