import { GatewayError } from "../../errors.js";
import type { PriorityGate } from "../../resilience/priority.js";
import type { Deployment } from "../../routing/table.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";

/** Told about every upstream attempt (the GenAI metrics, and the CLIENT span when tracing is on). */
export interface AttemptObserver {
  /** Before the call (ctx.attemptStartedAt set): headers to send with it (W3C traceparent), if any. */
  started(ctx: RequestContext, deployment: Deployment): Record<string, string> | undefined;
  /** The attempt failed before its answer began, with the error the client would see. */
  failed(ctx: RequestContext, deployment: Deployment, err: unknown): void;
  /** The answer began (ctx.result is set); a stream's attempt lasts until the request finishes. */
  answered(ctx: RequestContext, deployment: Deployment): void;
}

/** Both observers told of every attempt; the headers are the second one's (the tracer's). */
export function bothObservers(first: AttemptObserver, second: AttemptObserver): AttemptObserver {
  return {
    started(ctx, deployment) {
      first.started(ctx, deployment);
      return second.started(ctx, deployment);
    },
    failed(ctx, deployment, err) {
      first.failed(ctx, deployment, err);
      second.failed(ctx, deployment, err);
    },
    answered(ctx, deployment) {
      first.answered(ctx, deployment);
      second.answered(ctx, deployment);
    },
  };
}

/**
 * The innermost stage: one call to the chosen deployment (see callDeployment). The resilience stage replaces
 * it when retries and fallbacks are configured; unit tests use it bare.
 */
export function callStage(
  gates: ReadonlyMap<string, PriorityGate> = new Map(),
  attempts?: AttemptObserver,
): NamedStage {
  if (attempts === undefined) return { name: "call", run: (ctx) => callDeployment(ctx, gates) };
  return {
    name: "call",
    run: async (ctx) => {
      const deployment = ctx.deployment;
      if (deployment === undefined) throw new Error("call reached without a deployment");
      ctx.attemptStartedAt = performance.now();
      const traceHeaders = attempts.started(ctx, deployment);
      try {
        await callDeployment(ctx, gates, traceHeaders);
      } catch (err) {
        attempts.failed(ctx, deployment, err);
        throw err;
      }
      attempts.answered(ctx, deployment);
    },
  };
}

/**
 * One call to ctx.deployment, in the provider's native API. A deployment with a concurrency limit admits calls
 * through its PriorityGate (high priority keys first; low ones shed first).
 */
export async function callDeployment(
  ctx: RequestContext,
  gates: ReadonlyMap<string, PriorityGate>,
  /** Sent upstream with this attempt (tracing's traceparent); undefined when tracing is off. */
  traceHeaders?: Record<string, string>,
): Promise<void> {
  const deployment = ctx.deployment;
  if (deployment === undefined) throw new Error("call reached without a deployment");
  ctx.attempts++;
  const gate = gates.size ? gates.get(deployment.id) : undefined;
  let release: (() => void) | undefined;
  if (gate !== undefined) release = await gate.acquire(ctx.key?.priority ?? "normal");
  try {
    ctx.result = ctx.endpoint === "chat" ? await callChat(ctx, traceHeaders) : await callEmbeddings(ctx, traceHeaders);
  } catch (err) {
    release?.(); // a failed attempt gives its slot back now: the next attempt may go elsewhere
    throw err;
  }
  if (release) ctx.whenDone(release); // a stream holds its slot until it ends
}

function callChat(ctx: RequestContext, traceHeaders: Record<string, string> | undefined) {
  const deployment = ctx.deployment as NonNullable<RequestContext["deployment"]>;
  return deployment.provider.chat({
    request: ctx.chat as NonNullable<RequestContext["chat"]>,
    rawBody: ctx.rawBody,
    upstreamModel: deployment.upstreamModel,
    stream: ctx.stream,
    requestId: ctx.requestId,
    signal: ctx.signal,
    observer: ctx,
    traceHeaders,
  });
}

function callEmbeddings(ctx: RequestContext, traceHeaders: Record<string, string> | undefined) {
  const deployment = ctx.deployment as NonNullable<RequestContext["deployment"]>;
  const embeddings = deployment.provider.embeddings;
  if (embeddings === undefined) {
    throw new GatewayError(
      `The model '${ctx.alias}' is served by provider '${deployment.providerName}' (${deployment.provider.type}), which has no embeddings API`,
      { status: 400, type: "invalid_request_error", param: "model", code: "embeddings_not_supported" },
    );
  }
  return embeddings.call(deployment.provider, {
    request: ctx.embeddings as NonNullable<RequestContext["embeddings"]>,
    rawBody: ctx.rawBody,
    upstreamModel: deployment.upstreamModel,
    requestId: ctx.requestId,
    signal: ctx.signal,
    observer: ctx,
    traceHeaders,
  });
}
