import type { Insertable, Selectable } from "kysely";
import type { UsageRecordsTable } from "../store/index.js";

/** What happened to one request; free text beyond these so a new stage needs no migration. */
export type UsageOutcome =
  | "ok"
  | "error"
  | "client_abort"
  | "upstream_cut"
  | "cache_hit"
  | "budget_block"
  | (string & {});

/** Exactly one per request, whatever happened; `requestId` makes writing it idempotent. */
export interface UsageRecord {
  requestId: string;
  /** Milliseconds since the epoch. */
  ts: number;
  keyId?: string;
  teamId?: string;
  orgId?: string;
  /** The request's `user` field. */
  endUser?: string;
  alias: string;
  provider?: string;
  deployment?: string;
  upstreamModel?: string;
  region?: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  estimatedCostUsd?: number;
  actualCostUsd?: number;
  latencyMs: number;
  ttftMs?: number;
  /** HTTP status sent to the client. */
  status: number;
  outcome: UsageOutcome;
  cacheDecision?: string;
  routeDecision?: string;
  /** What the budget stage decided: reserved, breached (level and scope), unchecked. */
  budgetDecision?: string;
  /** Upstream attempts and how each ended, e.g. "2: openai/gpt-4o 502, azure/gpt-4o ok". */
  attempts?: string;
  /** A cache hit: the upstream cost and latency the original call had, saved this time. */
  savedCostUsd?: number;
  savedLatencyMs?: number;
  stream: boolean;
  endpoint: "chat" | "embeddings";
  errorType?: string;
  /** Chat requests sent upstream: the messages' fingerprint (prompt-hash.ts), to see which prompts repeat. */
  promptHash?: string;
}

export type UsageRow = Insertable<UsageRecordsTable>;

// A NaN or a fractional token count would fail the whole batch insert on Postgres (integer columns) and, spooled,
// fail every replay: the row is made valid here instead.
const int = (n: number | undefined): number => (Number.isFinite(n) ? Math.round(n as number) : 0);
const intOrNull = (n: number | undefined): number | null => (Number.isFinite(n) ? Math.round(n as number) : null);
const numOrNull = (n: number | undefined): number | null => (Number.isFinite(n) ? (n as number) : null);
// Postgres text cannot hold NUL; stripped on both dialects so they store the same.
const text = (s: unknown): string => {
  const v = String(s ?? "");
  return v.includes("\0") ? v.replaceAll("\0", "") : v;
};
const str = (s: string | undefined): string | null => (s === undefined || s === null ? null : text(s));

export function toRow(r: UsageRecord): UsageRow {
  return {
    request_id: text(r.requestId),
    ts: int(r.ts),
    key_id: str(r.keyId),
    team_id: str(r.teamId),
    org_id: str(r.orgId),
    end_user: str(r.endUser),
    alias: text(r.alias),
    provider: str(r.provider),
    deployment: str(r.deployment),
    upstream_model: str(r.upstreamModel),
    region: str(r.region),
    prompt_tokens: int(r.promptTokens),
    completion_tokens: int(r.completionTokens),
    cached_tokens: int(r.cachedTokens),
    cache_write_tokens: int(r.cacheWriteTokens),
    estimated_cost_usd: numOrNull(r.estimatedCostUsd),
    actual_cost_usd: numOrNull(r.actualCostUsd),
    latency_ms: int(r.latencyMs),
    ttft_ms: intOrNull(r.ttftMs),
    status: int(r.status),
    outcome: text(r.outcome),
    cache_decision: str(r.cacheDecision),
    route_decision: str(r.routeDecision),
    budget_decision: str(r.budgetDecision),
    attempts: str(r.attempts),
    saved_cost_usd: numOrNull(r.savedCostUsd),
    saved_latency_ms: intOrNull(r.savedLatencyMs),
    stream: r.stream ? 1 : 0,
    endpoint: text(r.endpoint),
    error_type: str(r.errorType),
    prompt_hash: str(r.promptHash),
  };
}

export function fromRow(row: Selectable<UsageRecordsTable>): UsageRecord {
  const r: UsageRecord = {
    requestId: row.request_id,
    ts: Number(row.ts),
    alias: row.alias,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    cachedTokens: row.cached_tokens,
    cacheWriteTokens: row.cache_write_tokens,
    latencyMs: row.latency_ms,
    status: row.status,
    outcome: row.outcome,
    stream: Number(row.stream) === 1,
    endpoint: row.endpoint as UsageRecord["endpoint"],
  };
  if (row.key_id !== null) r.keyId = row.key_id;
  if (row.team_id !== null) r.teamId = row.team_id;
  if (row.org_id !== null) r.orgId = row.org_id;
  if (row.end_user !== null) r.endUser = row.end_user;
  if (row.provider !== null) r.provider = row.provider;
  if (row.deployment !== null) r.deployment = row.deployment;
  if (row.upstream_model !== null) r.upstreamModel = row.upstream_model;
  if (row.region !== null) r.region = row.region;
  if (row.estimated_cost_usd !== null) r.estimatedCostUsd = Number(row.estimated_cost_usd);
  if (row.actual_cost_usd !== null) r.actualCostUsd = Number(row.actual_cost_usd);
  if (row.ttft_ms !== null) r.ttftMs = row.ttft_ms;
  if (row.cache_decision !== null) r.cacheDecision = row.cache_decision;
  if (row.route_decision !== null) r.routeDecision = row.route_decision;
  if (row.budget_decision !== null && row.budget_decision !== undefined) r.budgetDecision = row.budget_decision;
  if (row.attempts !== null && row.attempts !== undefined) r.attempts = row.attempts;
  if (row.saved_cost_usd !== null && row.saved_cost_usd !== undefined) r.savedCostUsd = Number(row.saved_cost_usd);
  if (row.saved_latency_ms !== null && row.saved_latency_ms !== undefined)
    r.savedLatencyMs = Number(row.saved_latency_ms);
  if (row.error_type !== null) r.errorType = row.error_type;
  if (row.prompt_hash !== null && row.prompt_hash !== undefined) r.promptHash = row.prompt_hash;
  return r;
}
