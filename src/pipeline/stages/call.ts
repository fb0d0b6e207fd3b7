import { GatewayError } from "../../errors.js";
import type { PriorityGate } from "../../resilience/priority.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";

/**
 * The innermost stage: one call to the chosen deployment (see callDeployment). The resilience stage replaces
 * it when retries and fallbacks are configured; unit tests use it bare.
 */
export function callStage(gates: ReadonlyMap<string, PriorityGate> = new Map()): NamedStage {
  return { name: "call", run: (ctx) => callDeployment(ctx, gates) };
}

/**
 * One call to ctx.deployment, in the provider's native API. A deployment with a concurrency limit admits calls
 * through its PriorityGate (high priority keys first; low ones shed first).
 */
export async function callDeployment(ctx: RequestContext, gates: ReadonlyMap<string, PriorityGate>): Promise<void> {
  const deployment = ctx.deployment;
  if (deployment === undefined) throw new Error("call reached without a deployment");
  ctx.attempts++;
  const gate = gates.size ? gates.get(deployment.id) : undefined;
  let release: (() => void) | undefined;
  if (gate !== undefined) release = await gate.acquire(ctx.key?.priority ?? "normal");
  try {
    ctx.result = ctx.endpoint === "chat" ? await callChat(ctx) : await callEmbeddings(ctx);
  } catch (err) {
    release?.(); // a failed attempt gives its slot back now: the next attempt may go elsewhere
    throw err;
  }
  if (release) ctx.whenDone(release); // a stream holds its slot until it ends
}

function callChat(ctx: RequestContext) {
  const deployment = ctx.deployment as NonNullable<RequestContext["deployment"]>;
  return deployment.provider.chat({
    request: ctx.chat as NonNullable<RequestContext["chat"]>,
    rawBody: ctx.rawBody,
    upstreamModel: deployment.upstreamModel,
    stream: ctx.stream,
    requestId: ctx.requestId,
    signal: ctx.signal,
    observer: ctx,
  });
}

function callEmbeddings(ctx: RequestContext) {
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
  });
}
