import type { CostEngine } from "../../cost/engine.js";
import { cacheWriteTokens, type Usage } from "../../openai/schema.js";
import { withUsageCost } from "../../openai/usage-cost.js";
import type { UsageLedger, UsageRecord } from "../../usage/index.js";
import { promptFingerprint } from "../../usage/prompt-hash.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";
import { formatUsd } from "./predict.js";

export const COST_HEADER = "x-tollgate-cost";

/**
 * After the call: a JSON answer's usage priced (the `x-tollgate-cost` header and `usage.cost`). Streams are
 * priced by their relay, in the usage chunk. The ledger record is written by `recordUsage`, which runs for
 * every request, refused ones included.
 */
export function usageStage(): NamedStage {
  return {
    name: "usage",
    run: async (ctx, next) => {
      await next();
      const result = ctx.result;
      const usage = ctx.usage;
      if (result === undefined || result.stream || usage === undefined || ctx.endpoint !== "chat") return;
      const cost = ctx.costOf(usage);
      if (cost === undefined) return;
      ctx.setHeader(COST_HEADER, formatUsd(cost));
      const body = withUsageCost(result.body as string | Uint8Array, cost);
      if (body !== undefined) result.body = body;
    },
  };
}

/** The finalizer that writes exactly one ledger record per request and teaches the cost engine. */
export function usageRecorder(engine: CostEngine, ledger: UsageLedger): (ctx: RequestContext) => void {
  return (ctx) => {
    const d = ctx.deployment;
    if (ctx.partialChunks !== undefined) ctx.usage = partialUsage(ctx, ctx.partialChunks);
    const usage = ctx.usage;
    let cost = ctx.costUsd;
    if (cost === undefined && usage !== undefined && d !== undefined) {
      cost = engine.costOf(d, usage);
      ctx.costUsd = cost;
    }
    ctx.usageFinal();
    if (usage !== undefined && d !== undefined && ctx.endpoint === "chat" && ctx.outcome === "completed") {
      engine.learn(d, ctx.alias, ctx.identity?.keyId, ctx.prediction, usage, cost);
    }
    ledger.record(toRecord(ctx, cost));
  };
}

/**
 * A stream cut short: the upstream's usage if it sent any, else the prompt as estimated; the completion at
 * least one token per content chunk relayed (the first chunk carries only the role).
 */
function partialUsage(ctx: RequestContext, chunks: number): Usage | undefined {
  const reported = ctx.usage;
  const prompt = reported?.prompt_tokens || ctx.estimate?.promptTokens || 0;
  const completion = Math.max(reported?.completion_tokens ?? 0, chunks - 1, 0);
  if (reported && reported.prompt_tokens === prompt && reported.completion_tokens === completion) return reported;
  if (prompt === 0 && completion === 0) return reported;
  return { ...reported, prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

const OUTCOME: Record<NonNullable<RequestContext["outcome"]>, string> = {
  completed: "ok",
  upstream_error: "upstream_cut",
  client_abort: "client_abort",
  error: "error",
};

function toRecord(ctx: RequestContext, cost: number | undefined): UsageRecord {
  const d = ctx.deployment;
  const usage = ctx.usage;
  const identity = ctx.identity;
  const endUser = ctx.chat?.user ?? ctx.embeddings?.user;
  const record: UsageRecord = {
    requestId: ctx.requestId,
    ts: Date.now(),
    alias: ctx.alias,
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: usage ? cacheWriteTokens(usage) : 0,
    latencyMs: ctx.durationMs ?? 0,
    status: ctx.status,
    outcome: ctx.error?.code === "budget_exceeded" ? "budget_block" : OUTCOME[ctx.outcome ?? "error"],
    stream: ctx.stream,
    endpoint: ctx.endpoint,
  };
  if (identity) {
    record.keyId = identity.keyId;
    if (identity.teamId) record.teamId = identity.teamId;
    if (identity.orgId) record.orgId = identity.orgId;
  }
  if (typeof endUser === "string") record.endUser = endUser;
  if (d) {
    record.provider = d.provider.type;
    record.deployment = d.id;
    record.upstreamModel = d.upstreamModel;
    if (d.region) record.region = d.region;
    if (ctx.endpoint === "chat") record.promptHash = promptFingerprint(ctx.rawBody);
  }
  if (ctx.estimate?.priced) record.estimatedCostUsd = ctx.estimate.costUsd;
  if (cost !== undefined) record.actualCostUsd = cost;
  if (ctx.firstByteMs !== undefined) record.ttftMs = ctx.firstByteMs;
  if (ctx.cacheDecision) record.cacheDecision = ctx.cacheDecision;
  if (ctx.routeDecision) record.routeDecision = `${ctx.routeDecision.strategy}: ${ctx.routeDecision.reason}`;
  if (ctx.budgetDecision) record.budgetDecision = ctx.budgetDecision;
  if (ctx.attemptLog) record.attempts = `${ctx.attempts}: ${ctx.attemptLog.join(", ")}`;
  if (ctx.savedCostUsd !== undefined) record.savedCostUsd = ctx.savedCostUsd;
  if (ctx.savedLatencyMs !== undefined) record.savedLatencyMs = ctx.savedLatencyMs;
  if (ctx.error) record.errorType = ctx.error.type;
  return record;
}
