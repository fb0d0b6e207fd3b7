import { GatewayError, toOpenAIError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { ChatCompletionRequestSchema, EmbeddingsRequestSchema } from "../openai/schema.js";
import { type Endpoint, RequestContext } from "../pipeline/context.js";
import type { Pipeline } from "../pipeline/index.js";
import { CLIENT_CLOSED } from "../providers/http.js";
import type { RelayStream } from "../providers/types.js";
import type { Exchange } from "./exchange.js";
import type { GenAiMetrics } from "./genai-metrics.js";
import { parseBody } from "./http.js";
import { observeRequest } from "./observe.js";
import { ParsedBodies } from "./parsed-bodies.js";
import type { RequestTracing } from "./trace.js";

export interface ModelCallDeps {
  pipeline: Pipeline;
  bodyLimit: number;
  metrics: Metrics;
  logger: Logger;
  /** The GenAI and spend metrics, recorded when each request is over. */
  genAi?: GenAiMetrics;
  /** Present only when tracing is on. */
  tracing?: Pick<RequestTracing, "start">;
}

export type ModelCallHandler = <R>(exchange: Exchange<R>, endpoint: Endpoint) => Promise<R>;

/** POST /v1/chat/completions and /v1/embeddings: body -> RequestContext -> pipeline -> answer. */
export function createModelCallHandler(deps: ModelCallDeps): ModelCallHandler {
  const { pipeline, bodyLimit, logger, tracing } = deps;
  const observe = observeRequest(deps.metrics, logger, deps.genAi);
  const chatBodies = new ParsedBodies((text) => parseBody(text, ChatCompletionRequestSchema));

  return async function handleModelCall<R>(ex: Exchange<R>, endpoint: Endpoint): Promise<R> {
    const ctx = new RequestContext(ex.requestId, endpoint, performance.now());
    observe.start(ctx);
    // Before begin(): finalizers run last-registered first, so the span ends after the usage record priced it.
    if (tracing !== undefined) tracing.start(ctx, ex);
    pipeline.begin(ctx);
    try {
      ctx.authorization = ex.authorization();
      ctx.headers = ex;
      ctx.rawBody = await ex.readBody(bodyLimit);
      if (endpoint === "chat") {
        const body = chatBodies.get(ctx.rawBody);
        ctx.chat = body;
        ctx.alias = body.model;
        ctx.stream = body.stream === true;
      } else {
        const body = parseBody(ctx.rawBody, EmbeddingsRequestSchema);
        ctx.embeddings = body;
        ctx.alias = body.model;
      }
      ctx.signal = ex.clientGone();
      await pipeline.run(ctx);
      return respond(ex, ctx);
    } catch (err) {
      const known = err instanceof GatewayError ? err : undefined;
      ctx.status = known ? known.status : 500;
      if (!known) logger.error({ request_id: ctx.requestId, err }, "unexpected error");
      setImmediate(finishLater, ctx, ctx.status === CLIENT_CLOSED ? "client_abort" : "error", known);
      const { status, body, headers } = toOpenAIError(err);
      // A refused request still carries what the stages found (the cost estimate, for one).
      return ex.sendJson(status, JSON.stringify(body), { ...ctx.responseHeaders, ...headers });
    }
  };
}

function respond<R>(ex: Exchange<R>, ctx: RequestContext): R {
  const result = ctx.result as NonNullable<RequestContext["result"]>;
  ctx.status = result.status;
  // A cache hit has no deployment: it was answered here.
  const headers: Record<string, string> = { "x-tollgate-deployment": ctx.deployment?.id ?? "cache" };
  if (result.headers) Object.assign(headers, result.headers);
  if (ctx.responseHeaders) Object.assign(headers, ctx.responseHeaders);
  // A stream's own end (last byte, upstream error or client abort) finishes the request.
  if (result.stream) return ex.sendStream(result.status, headers, result.body as RelayStream);
  finishCompletedSoon(ctx);
  return ex.sendJson(result.status, result.body as string | Uint8Array, headers);
}

// Logging and metrics run after the response is written, not before: one setImmediate for all the requests
// answered in the same turn of the event loop.
const completed: RequestContext[] = [];

function finishCompletedSoon(ctx: RequestContext): void {
  if (completed.push(ctx) === 1) setImmediate(finishCompleted);
}

function finishCompleted(): void {
  for (const ctx of completed) {
    try {
      ctx.finish("completed");
    } catch {
      // a failing finalizer must not keep the others in this batch from running
    }
  }
  completed.length = 0;
}

function finishLater(ctx: RequestContext, outcome: "completed" | "error" | "client_abort", error?: GatewayError) {
  ctx.finish(outcome, error);
}
