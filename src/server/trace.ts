import {
  type Attributes,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import type { Config } from "../config/schema.js";
import { GEN_AI_OPERATION, GEN_AI_PROVIDER, genAiErrorType } from "../metrics/genai.js";
import type { RequestContext } from "../pipeline/context.js";
import type { AttemptObserver } from "../pipeline/stages/call.js";
import type { Deployment } from "../routing/table.js";
import { openTracer, type TracerOptions } from "../tracing/sdk.js";
import { answerFacts, inputMessages, outputMessages } from "./trace-content.js";

// Loaded by app.ts with a dynamic import, only when tracing is on; with it off, nothing here runs.

export interface RequestTracing {
  /** Opens the request's SERVER span (child of the client's traceparent, if it sent one); ends it when done. */
  start(ctx: RequestContext, headers: { header(name: string): string | undefined }): void;
  /** A CLIENT span per upstream attempt, and the traceparent that carries it upstream. */
  readonly attempts: AttemptObserver;
  shutdown(): Promise<void>;
}

export interface RequestTracingOptions extends TracerOptions {
  config: Config;
  /** Record prompts and answers (tracing.capture_content). */
  captureContent: boolean;
}

const ROUTE = { chat: "/v1/chat/completions", embeddings: "/v1/embeddings" } as const;
const SERVER_SPAN_NAME = { chat: `POST ${ROUTE.chat}`, embeddings: `POST ${ROUTE.embeddings}` } as const;

const headerGetter: TextMapGetter<{ header(name: string): string | undefined }> = {
  get: (carrier, key) => carrier.header(key),
  keys: () => ["traceparent", "tracestate"],
};

/**
 * Spans with the OpenTelemetry GenAI conventions (v1.41): the request's SERVER span carries the HTTP and
 * Tollgate attributes (tollgate.org/team/key, alias, cost, cache, attempts); each upstream attempt's CLIENT
 * span, named "{operation} {upstream model}", the gen_ai.* ones. No prompt or answer unless captureContent.
 */
export function startRequestTracing(options: RequestTracingOptions): RequestTracing {
  const { tracer, propagator, shutdown } = openTracer(options);
  const servers = serverAddresses(options.config);
  const capture = options.captureContent;

  const finish = (ctx: RequestContext) => {
    const t = ctx.trace;
    if (t === undefined) return;
    if (t.attempt !== undefined) endAnsweredAttempt(ctx, t.attempt, t.answeredAt, capture);
    t.attempt = undefined;
    const server = t.server;
    server.setAttributes(serverAttributes(ctx));
    if (ctx.status >= 400) server.setAttribute("error.type", String(ctx.status));
    // HTTP server conventions: a 4xx is the client's doing, not the span's error.
    if (ctx.status >= 500) server.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error?.message ?? "" });
    server.end();
  };

  const attempts: AttemptObserver = {
    started(ctx, d) {
      const t = ctx.trace;
      if (t === undefined) return undefined; // a request started without tracing (the cache's own embeddings)
      const span = tracer.startSpan(
        `${GEN_AI_OPERATION[ctx.endpoint]} ${d.upstreamModel}`,
        { kind: SpanKind.CLIENT, startTime: ctx.attemptStartedAt, attributes: attemptAttributes(ctx, d, servers) },
        trace.setSpan(ROOT_CONTEXT, t.server),
      );
      if (capture && ctx.chat) span.setAttribute("gen_ai.input.messages", inputMessages(ctx.chat));
      t.attempt = span;
      t.answeredAt = 0;
      const headers: Record<string, string> = {};
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
      return headers;
    },
    failed(ctx, _d, err) {
      const t = ctx.trace;
      const span = t?.attempt;
      if (t === undefined || span === undefined) return;
      span.setAttribute("error.type", genAiErrorType(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      span.end();
      t.attempt = undefined;
    },
    answered(ctx) {
      // The span stays open until the request is over, for its usage and cost; a JSON answer's ends when it came.
      const t = ctx.trace;
      if (t !== undefined && !ctx.result?.stream) t.answeredAt = performance.now();
    },
  };

  return {
    start(ctx, headers) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      const server = tracer.startSpan(
        SERVER_SPAN_NAME[ctx.endpoint],
        {
          kind: SpanKind.SERVER,
          startTime: ctx.startedAt,
          attributes: {
            "http.request.method": "POST",
            "http.route": ROUTE[ctx.endpoint],
            "url.path": ROUTE[ctx.endpoint],
            "gen_ai.operation.name": GEN_AI_OPERATION[ctx.endpoint],
            "tollgate.request_id": ctx.requestId,
          },
        },
        parent,
      );
      ctx.trace = { server, attempt: undefined, answeredAt: 0 };
      ctx.whenDone(finish);
    },
    attempts,
    shutdown,
  };
}

function serverAttributes(ctx: RequestContext): Attributes {
  const a: Attributes = { "http.response.status_code": ctx.status, "tollgate.attempts": ctx.attempts };
  const asked = ctx.chat?.model ?? ctx.embeddings?.model;
  if (asked !== undefined) a["gen_ai.request.model"] = asked;
  const id = ctx.identity;
  if (id !== undefined) {
    a["tollgate.key"] = id.keyId;
    if (id.teamId !== undefined) a["tollgate.team"] = id.teamId;
    if (id.orgId !== undefined) a["tollgate.org"] = id.orgId;
  }
  if (ctx.route !== undefined) a["tollgate.alias"] = ctx.route.alias;
  if (ctx.deployment !== undefined) a["tollgate.deployment"] = ctx.deployment.id;
  if (ctx.outcome !== undefined) a["tollgate.outcome"] = ctx.outcome;
  if (ctx.costUsd !== undefined) a["tollgate.cost_usd"] = ctx.costUsd;
  if (ctx.estimate?.priced) a["tollgate.cost_estimate_usd"] = ctx.estimate.costUsd;
  if (ctx.cacheDecision !== undefined) a["tollgate.cache"] = ctx.cacheDecision;
  if (ctx.budgetDecision !== undefined) a["tollgate.budget"] = ctx.budgetDecision;
  if (ctx.routeDecision !== undefined) a["tollgate.route.strategy"] = ctx.routeDecision.strategy;
  if (ctx.error?.code) a["tollgate.error_code"] = ctx.error.code;
  const usage = ctx.usage;
  if (usage !== undefined) {
    a["gen_ai.usage.input_tokens"] = usage.prompt_tokens;
    if (usage.completion_tokens !== undefined) a["gen_ai.usage.output_tokens"] = usage.completion_tokens;
  }
  return a;
}

function attemptAttributes(
  ctx: RequestContext,
  d: Deployment,
  servers: ReadonlyMap<string, { address: string; port: number }>,
): Attributes {
  const a: Attributes = {
    "gen_ai.operation.name": GEN_AI_OPERATION[ctx.endpoint],
    "gen_ai.provider.name": GEN_AI_PROVIDER[d.provider.type] ?? d.provider.type,
    "gen_ai.request.model": d.upstreamModel,
    "tollgate.deployment": d.id,
    "tollgate.attempt": ctx.attempts + 1,
  };
  const server = servers.get(d.providerName);
  if (server !== undefined) {
    a["server.address"] = server.address;
    a["server.port"] = server.port;
  }
  const chat = ctx.chat;
  if (chat !== undefined) {
    const maxTokens = chat.max_completion_tokens ?? chat.max_tokens;
    if (maxTokens != null) a["gen_ai.request.max_tokens"] = maxTokens;
    if (chat.temperature != null) a["gen_ai.request.temperature"] = chat.temperature;
    if (chat.top_p != null) a["gen_ai.request.top_p"] = chat.top_p;
    if (chat.frequency_penalty != null) a["gen_ai.request.frequency_penalty"] = chat.frequency_penalty;
    if (chat.presence_penalty != null) a["gen_ai.request.presence_penalty"] = chat.presence_penalty;
    if (chat.stop != null) a["gen_ai.request.stop_sequences"] = typeof chat.stop === "string" ? [chat.stop] : chat.stop;
    if (typeof chat.seed === "number") a["gen_ai.request.seed"] = chat.seed;
    if (chat.n != null && chat.n !== 1) a["gen_ai.request.choice.count"] = chat.n;
    const format = (chat.response_format as { type?: unknown } | undefined)?.type;
    if (typeof format === "string") a["gen_ai.output.type"] = format === "text" ? "text" : "json";
  }
  const dimensions = ctx.embeddings?.dimensions;
  if (dimensions !== undefined) a["gen_ai.embeddings.dimension.count"] = dimensions;
  return a;
}

/** The attempt that answered: usage, cost, the answer's id, model and finish reasons; ends it. */
function endAnsweredAttempt(ctx: RequestContext, span: Span, answeredAt: number, capture: boolean): void {
  const usage = ctx.usage;
  // A stream cut short has an estimated usage, not the upstream's count.
  if (usage !== undefined && ctx.partialChunks === undefined) {
    span.setAttribute("gen_ai.usage.input_tokens", usage.prompt_tokens);
    if (usage.completion_tokens !== undefined) span.setAttribute("gen_ai.usage.output_tokens", usage.completion_tokens);
  }
  if (ctx.costUsd !== undefined) span.setAttribute("tollgate.cost_usd", ctx.costUsd);
  const result = ctx.result;
  if (result !== undefined && !result.stream && ctx.endpoint === "chat") {
    const facts = answerFacts(result.body as string | Uint8Array);
    if (facts !== undefined) {
      if (facts.id !== undefined) span.setAttribute("gen_ai.response.id", facts.id);
      if (facts.model !== undefined) span.setAttribute("gen_ai.response.model", facts.model);
      if (facts.finishReasons.length) span.setAttribute("gen_ai.response.finish_reasons", facts.finishReasons);
      if (capture) span.setAttribute("gen_ai.output.messages", outputMessages(facts));
    }
  }
  if (ctx.outcome === "upstream_error" || ctx.outcome === "client_abort") {
    span.setAttribute("error.type", ctx.outcome === "client_abort" ? "client_closed" : genAiErrorType(ctx.error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error?.message ?? ctx.outcome });
  }
  // A stream's attempt lasts until its last byte, that is now.
  span.end(answeredAt > 0 ? answeredAt : undefined);
}

const DEFAULT_ORIGINS: Readonly<Record<string, string>> = {
  openai: "https://api.openai.com",
  anthropic: "https://api.anthropic.com",
  gemini: "https://generativelanguage.googleapis.com",
};

/** server.address and server.port of each provider, from its base_url or the provider's default origin. */
function serverAddresses(config: Config): Map<string, { address: string; port: number }> {
  const out = new Map<string, { address: string; port: number }>();
  for (const [name, p] of Object.entries(config.providers)) {
    const origin =
      p.base_url ??
      (p.type === "bedrock" ? `https://bedrock-runtime.${p.region}.amazonaws.com` : DEFAULT_ORIGINS[p.type]);
    if (origin === undefined) continue;
    const url = new URL(origin);
    out.set(name, { address: url.hostname, port: Number(url.port) || (url.protocol === "https:" ? 443 : 80) });
  }
  return out;
}
