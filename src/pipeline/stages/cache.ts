import { completionFromSse } from "../../cache/accumulate.js";
import type { AliasCacheConfig, CacheConfig } from "../../cache/config.js";
import { type CacheEntry, cachedCompletion, makeCacheEntry } from "../../cache/entry.js";
import { ExactKeys } from "../../cache/key.js";
import { isReplayable, replayAsSse } from "../../cache/replay.js";
import { isEligible } from "../../cache/semantic/index.js";
import type { SemanticTier } from "../../cache/semantic-tier.js";
import type { CacheStore } from "../../cache/store.js";
import { ReplayStream, TappedStream } from "../../cache/tap.js";
import { GatewayError } from "../../errors.js";
import { withUsageCost } from "../../openai/usage-cost.js";
import type { RelayStream } from "../../providers/types.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";

export const CACHE_HEADER = "x-tollgate-cache";
export const CACHE_TTL_HEADER = "x-tollgate-cache-ttl";

/** Counters the stage reports to (prom-client in app.ts). */
export interface CacheObserver {
  request?(result: "hit" | "miss" | "bypass", tier?: "exact" | "semantic"): void;
  saved?(usd: number, seconds: number): void;
}

export interface CacheStageOptions {
  store: CacheStore;
  config: CacheConfig;
  /** Each alias's cache settings (routes.yaml `models.<alias>.cache`). */
  aliases: ReadonlyMap<string, AliasCacheConfig>;
  /** The semantic tier, when any alias opts in. */
  semantic?: SemanticTier;
  observer?: CacheObserver;
}

/** A request's semantic-tier state between its lookup and its store. */
interface SemanticState {
  namespace: string;
  prompt: string;
  prepared: Awaited<ReturnType<SemanticTier["cache"]["prepare"]>>;
  /** A would-be hit sent upstream anyway, to check the cached answer. */
  verifying?: { entryId: string; similarity: number; body: string };
}

/**
 * The exact tier: an answer already given to the same request (everything that changes the answer, within the
 * caller's org, team or key) is served again without an upstream call, as JSON or replayed as SSE. Only complete
 * answers are stored; a hit costs nothing (unless cache.charge_budgets) and records what it saved.
 */
export function cacheStage(options: CacheStageOptions): NamedStage {
  const { store, config, aliases, observer, semantic: tier } = options;
  const keys = new ExactKeys();
  return {
    name: "cache",
    run: async (ctx, next) => {
      const chat = ctx.chat;
      const alias = aliases.get(ctx.alias);
      if (chat === undefined || alias === undefined || !(alias.enabled ?? config.enabled)) return next();
      const control = ctx.headers?.header("cache-control")?.toLowerCase() ?? "";
      // OpenAI's default temperature is 1: an unset one varies the answer too.
      const varies = (chat.temperature ?? 1) > 0 && !alias.allow_temperature;
      const tooCheap = ctx.estimate !== undefined && ctx.estimate.upperCostUsd < config.min_cost_usd;
      if (control.includes("no-store") || varies || tooCheap || (chat.n ?? 1) > 1) {
        bypass(ctx, observer);
        return next();
      }
      const tenant = namespaceOf(ctx, alias.namespace);
      const key = keys.keyOf(chat, ctx.alias, tenant);
      const ttlMs = ttlOf(ctx, alias, config) * 1000;
      if (!control.includes("no-cache")) {
        const entry = await store.get(key);
        if (entry !== undefined) {
          serveHit(ctx, entry, config.charge_budgets);
          observer?.request?.("hit");
          observer?.saved?.(entry.costUsd, entry.latencyMs / 1000);
          return;
        }
      }
      let semantic: SemanticState | undefined;
      if (tier && alias.semantic && isEligible(chat.messages.length, ctx.estimate?.promptTokens ?? 0)) {
        const prompt = tier.promptText(chat);
        semantic = {
          namespace: tier.namespace(tenant, ctx.alias, chat),
          prompt,
          prepared: await tier.cache.prepare(prompt),
        };
        const near = control.includes("no-cache")
          ? undefined
          : tier.cache.lookupPrepared(semantic.namespace, semantic.prepared);
        const entry = near && (await store.get(near.entryId));
        if (near && entry === undefined) tier.cache.remove(near.entryId); // expired or evicted from the store
        if (near && entry) {
          if (tier.cache.shouldVerify()) {
            semantic.verifying = { entryId: near.entryId, similarity: near.similarity, body: entry.body };
          } else {
            serveHit(ctx, entry, config.charge_budgets, near.similarity);
            observer?.request?.("hit", "semantic");
            observer?.saved?.(entry.costUsd, entry.latencyMs / 1000);
            return;
          }
        }
      }
      ctx.cacheDecision = "miss";
      ctx.setHeader(CACHE_HEADER, "miss");
      observer?.request?.("miss");
      await next();
      const result = ctx.result;
      if (result === undefined || result.status !== 200) return;
      if (!result.stream) {
        const body = result.body as string | Uint8Array;
        ctx.whenDone((c) => {
          if (c.outcome !== "completed") return;
          const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
          // Kept only if a streamed request could be answered from it too (no audio, annotations, ...).
          if (!isReplayable(JSON.parse(text))) return;
          const entry = makeCacheEntry({
            completion: text,
            costUsd: c.costUsd ?? 0,
            latencyMs: c.durationMs ?? 0,
            ttlMs,
          });
          void store.set(key, entry, ttlMs);
          if (tier && semantic) learnSemantic(tier, semantic, key, entry);
        });
        return;
      }
      result.body = new TappedStream(result.body as RelayStream, (sse) => {
        if (ctx.outcome !== "completed") return;
        const completion = completionFromSse(sse); // undefined when cut, failed or not faithfully replayable
        if (completion === undefined) return;
        const entry = makeCacheEntry({
          completion,
          costUsd: ctx.costUsd ?? 0,
          latencyMs: ctx.durationMs ?? 0,
          ttlMs,
        });
        void store.set(key, entry, ttlMs);
        if (tier && semantic) learnSemantic(tier, semantic, key, entry);
      });
    },
  };
}

/** After a stored miss: the prompt joins the semantic index, and a verification's verdict is recorded. */
function learnSemantic(tier: SemanticTier, state: SemanticState, key: string, entry: CacheEntry): void {
  tier.remember(state.namespace, state.prompt, state.prepared, key, entry);
  const v = state.verifying;
  if (v === undefined) return;
  void tier
    .sameAnswer(v.body, entry.body)
    .then((correct) => tier.cache.recordVerification(v.entryId, v.similarity, correct));
}

function bypass(ctx: RequestContext, observer: CacheObserver | undefined): void {
  ctx.cacheDecision = "bypass";
  ctx.setHeader(CACHE_HEADER, "bypass");
  observer?.request?.("bypass");
}

function serveHit(ctx: RequestContext, entry: CacheEntry, chargeBudgets: boolean, similarity?: number): void {
  ctx.cacheDecision = similarity === undefined ? "hit" : "semantic-hit";
  ctx.setHeader(CACHE_HEADER, ctx.cacheDecision);
  if (similarity !== undefined) ctx.setHeader("x-tollgate-cache-similarity", similarity.toFixed(3));
  // Budgets settle at ctx.costUsd: nothing by default, the original cost with cache.charge_budgets.
  ctx.costUsd = chargeBudgets ? entry.costUsd : 0;
  ctx.savedCostUsd = entry.costUsd;
  ctx.savedLatencyMs = entry.latencyMs;
  // The answer is the original's, but this request cost what the hit cost: its usage.cost says so.
  const cost = ctx.costUsd;
  if (!ctx.stream) {
    const body = withUsageCost(entry.body, cost) ?? entry.body;
    ctx.result = { status: 200, body, stream: false, headers: undefined };
    return;
  }
  const includeUsage = ctx.chat?.stream_options?.include_usage === true;
  const completion = cachedCompletion(entry);
  if (completion.usage) (completion.usage as { cost?: number }).cost = cost;
  const sse = replayAsSse(completion, { includeUsage });
  ctx.result = {
    status: 200,
    body: new ReplayStream(sse, (outcome) => ctx.onStreamEnd(outcome)),
    stream: true,
    headers: undefined,
  };
}

function namespaceOf(ctx: RequestContext, scope: AliasCacheConfig["namespace"]): string {
  const identity = ctx.identity;
  if (identity === undefined) return "open"; // no auth: one tenant
  if (scope === "key") return `key:${identity.keyId}`;
  if (scope === "org") return `org:${identity.orgId ?? identity.teamId ?? identity.keyId}`;
  return `team:${identity.teamId ?? identity.keyId}`;
}

function ttlOf(ctx: RequestContext, alias: AliasCacheConfig, config: CacheConfig): number {
  const asked = ctx.headers?.header(CACHE_TTL_HEADER);
  if (asked === undefined) return alias.ttl_s ?? config.ttl_s;
  const seconds = Number(asked);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new GatewayError(`${CACHE_TTL_HEADER} must be a positive whole number of seconds, got "${asked}"`, {
      status: 400,
      type: "invalid_request_error",
      code: "invalid_cache_ttl",
    });
  }
  return seconds;
}
