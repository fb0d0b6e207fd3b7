import type { Span } from "@opentelemetry/api";
import type { Identity } from "../auth/identity.js";
import type { AuthedKey } from "../auth/index.js";
import type { Prediction } from "../cost/engine.js";
import type { GatewayError } from "../errors.js";
import type { ChatCompletionRequest, EmbeddingsRequest, Usage } from "../openai/schema.js";
import type { AbortSignalLike, StreamOutcome, UpstreamObserver, UpstreamResult } from "../providers/types.js";
import type { AliasRoute, Deployment } from "../routing/table.js";

export type Endpoint = "chat" | "embeddings";

/** How the request ended, for logs, metrics and (later) the usage ledger. */
export type Outcome = StreamOutcome | "error";

export type { Identity } from "../auth/identity.js";

export interface RouteDecision {
  strategy: string;
  candidates: number;
  reason: string;
  /** Deployments routing left out, and why (kept for the explain endpoint). */
  excluded?: readonly { id: string; why: string }[];
  /** The routing rule that matched. */
  rule?: string;
}

export interface CostEstimate {
  promptTokens: number;
  completionTokens: number;
  /** Expected USD on the chosen deployment (before routing: the highest over the candidates). */
  costUsd: number;
  /** The most the call may cost on any candidate: what a budget reserves. */
  upperCostUsd: number;
  /** False when no candidate's price is known (costs then read 0). */
  priced: boolean;
}

export type CacheDecision = "hit" | "semantic-hit" | "miss" | "bypass";

type Finalizer = (ctx: RequestContext) => void;

/** A request's spans while tracing is on (server/trace.ts writes and reads them; the stages never do). */
export interface RequestTrace {
  readonly server: Span;
  /** The current upstream attempt's CLIENT span, until it ends. */
  attempt: Span | undefined;
  /** performance.now() when that attempt's JSON answer came in (its span ends with the request, for the cost). */
  answeredAt: number;
}

/** Prices a usage on the context's deployment; undefined when its price is unknown. Set by the predict stage. */
export type UsagePricer = (ctx: RequestContext, usage: Usage) => number | undefined;

/**
 * One per request, shared by every stage. Stages read and write these named fields; nothing travels in
 * ad-hoc maps. All fields are set in the constructor so every context has the same shape (fast property access).
 */
export class RequestContext implements UpstreamObserver {
  readonly requestId: string;
  readonly endpoint: Endpoint;
  /** performance.now() when the request arrived; all timings are relative to it. */
  readonly startedAt: number;
  /** Fires when the client goes away: aborts the upstream call. */
  signal: AbortSignalLike | undefined = undefined;

  /** The Authorization header (the auth stage reads it; never logged). */
  authorization: string | undefined = undefined;
  /** The request's headers, for routing rules and the caller's region. */
  headers: { header(name: string): string | undefined } | undefined = undefined;
  rawBody = "";
  chat: ChatCompletionRequest | undefined = undefined;
  embeddings: EmbeddingsRequest | undefined = undefined;
  /** The model name the client asked for. */
  alias = "";
  stream = false;

  identity: Identity | undefined = undefined;
  /** What the budget stage decided (reserved, breached, unchecked), for the usage record. */
  budgetDecision: string | undefined = undefined;
  /** Per-model budget guardrails routing must honour: provider types to leave out, latency targets by provider. */
  guardrails: { droppedProviders?: ReadonlySet<string>; latencyTargets?: ReadonlyMap<string, number> } | undefined =
    undefined;
  /** The caller's key, once the auth stage has found it (limits, priority). */
  key: AuthedKey | undefined = undefined;
  estimate: CostEstimate | undefined = undefined;
  /** The predict stage's per-deployment figures, kept for learning from the actual usage. */
  prediction: Prediction | undefined = undefined;
  cacheDecision: CacheDecision | undefined = undefined;
  route: AliasRoute | undefined = undefined;
  routeDecision: RouteDecision | undefined = undefined;
  deployment: Deployment | undefined = undefined;
  /** The route's deployments in the order they are tried (the pick first). */
  candidates: readonly Deployment[] | undefined = undefined;
  /** A per-request cost cap (x-tollgate-max-cost, a rule, the alias) for the quality strategy. */
  maxCostUsd: number | undefined = undefined;
  attempts = 0;
  /** performance.now() when the current upstream attempt began. */
  attemptStartedAt = 0;
  /** Each upstream attempt and how it ended ("openai/gpt-4o 502"), when there was more than one or it failed. */
  attemptLog: string[] | undefined = undefined;

  result: UpstreamResult | undefined = undefined;
  /** Headers stages add to the client's response (x-tollgate-*). */
  responseHeaders: Record<string, string> | undefined = undefined;
  usage: Usage | undefined = undefined;
  /** The actual cost in USD, once the usage is priced. */
  costUsd: number | undefined = undefined;
  /** A cache hit: the original call's cost and latency, saved this time. */
  savedCostUsd: number | undefined = undefined;
  savedLatencyMs: number | undefined = undefined;
  pricer: UsagePricer | undefined = undefined;
  /** Chunks relayed by a stream cut short (see UpstreamObserver.onPartialOutput). */
  partialChunks: number | undefined = undefined;
  error: GatewayError | undefined = undefined;
  outcome: Outcome | undefined = undefined;
  status = 0;
  firstByteMs: number | undefined = undefined;
  durationMs: number | undefined = undefined;
  /** Set when tracing is on. */
  trace: RequestTrace | undefined = undefined;

  /** Work that needs the request's final usage and cost (settling budgets, correcting token limits). */
  private usageListeners: Finalizer[] | undefined = undefined;

  // Most requests have one finalizer: kept in a field, the array only for the rest.
  private finalizer: Finalizer | undefined = undefined;
  private finalizers: Finalizer[] | undefined = undefined;

  constructor(requestId: string, endpoint: Endpoint, startedAt: number) {
    this.requestId = requestId;
    this.endpoint = endpoint;
    this.startedAt = startedAt;
  }

  get upstreamModel(): string | undefined {
    return this.deployment?.upstreamModel;
  }

  setHeader(name: string, value: string): void {
    if (this.responseHeaders === undefined) this.responseHeaders = {};
    this.responseHeaders[name] = value;
  }

  /** Runs once when the request is really over: after the last byte of a stream, or with the response otherwise. */
  whenDone(finalizer: Finalizer): void {
    if (this.finalizer === undefined) this.finalizer = finalizer;
    else if (this.finalizers === undefined) this.finalizers = [finalizer];
    else this.finalizers.push(finalizer);
  }

  /** Runs `listener` once the actual usage and cost are known (the usage stage calls them), however it ended. */
  afterUsage(listener: Finalizer): void {
    if (this.usageListeners === undefined) this.usageListeners = [listener];
    else this.usageListeners.push(listener);
  }

  /** Called by the usage stage once usage and cost are final. */
  usageFinal(): void {
    const listeners = this.usageListeners;
    if (listeners === undefined) return;
    this.usageListeners = undefined;
    for (const listener of listeners) {
      try {
        listener(this);
      } catch {
        // one failing listener must not keep the others (or the usage record) from running
      }
    }
  }

  get done(): boolean {
    return this.outcome !== undefined;
  }

  /** Ends the request: runs the finalizers, innermost stage first. Later calls do nothing. */
  finish(outcome: Outcome, error?: GatewayError): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    if (error) this.error = error;
    this.durationMs = performance.now() - this.startedAt;
    const finalizers = this.finalizers;
    if (finalizers) for (let i = finalizers.length - 1; i >= 0; i--) (finalizers[i] as Finalizer)(this);
    this.finalizer?.(this);
  }

  onFirstByte(): void {
    this.firstByteMs ??= performance.now() - this.startedAt;
  }

  onUsage(usage: Usage): void {
    this.usage = usage;
  }

  onPartialOutput(chunks: number): void {
    this.partialChunks = chunks;
  }

  costOf(usage: Usage): number | undefined {
    const cost = this.pricer?.(this, usage);
    if (cost !== undefined && usage === this.usage) this.costUsd = cost;
    return cost;
  }

  onStreamEnd(outcome: StreamOutcome, error?: GatewayError): void {
    this.finish(outcome, error);
  }
}
