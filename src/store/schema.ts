import type { ColumnType } from "kysely";

/** A BIGINT column: Postgres returns int8 as a string (it may exceed 2^53), SQLite as a number. */
type BigIntColumn = ColumnType<number | string, number, number>;
type NullableBigIntColumn = ColumnType<number | string | null, number | null, number | null>;

/** One row per request; `request_id` is the primary key, so a replayed batch inserts each request once. */
export interface UsageRecordsTable {
  request_id: string;
  /** Milliseconds since the epoch; bucketed arithmetically so day/hour groups need no dialect date functions. */
  ts: BigIntColumn;
  key_id: string | null;
  team_id: string | null;
  org_id: string | null;
  end_user: string | null;
  alias: string;
  provider: string | null;
  deployment: string | null;
  upstream_model: string | null;
  region: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  estimated_cost_usd: number | null;
  actual_cost_usd: number | null;
  latency_ms: number;
  ttft_ms: number | null;
  status: number;
  outcome: string;
  cache_decision: string | null;
  route_decision: string | null;
  budget_decision: string | null;
  /** "2: openai/gpt-4o 502, azure/gpt-4o ok": upstream attempts and how each ended. */
  attempts: string | null;
  /** A cache hit: what the original call cost, and how long it took. */
  saved_cost_usd: number | null;
  saved_latency_ms: number | null;
  /** 0 or 1: SQLite has no boolean and better-sqlite3 cannot bind one. */
  stream: number;
  endpoint: string;
  error_type: string | null;
  /** Fingerprint of the chat request's messages (usage/prompt-hash.ts): equal prompts, equal hashes. */
  prompt_hash: string | null;
}

/** Tenancy: org -> team -> key. `source` is `config` for rows declared in routes.yaml, `api` otherwise. */
export interface OrgsTable {
  id: string;
  name: string;
  source: string;
  created_at: BigIntColumn;
}

export interface TeamsTable {
  id: string;
  org_id: string;
  name: string;
  source: string;
  created_at: BigIntColumn;
}

/**
 * A key is stored only as the SHA-256 hex of its secret. During a rotation the previous hash stays valid until
 * `prev_valid_until`. `hint` is the masked form (`tg-ab***wxyz`), safe to show and log.
 */
export interface KeysTable {
  id: string;
  name: string;
  team_id: string;
  org_id: string;
  key_hash: string;
  prev_key_hash: string | null;
  prev_valid_until: NullableBigIntColumn;
  hint: string;
  /** JSON array of alias names or globs (`gpt-*`); empty: every alias. */
  allowed_aliases: string;
  rpm: number | null;
  tpm: number | null;
  priority: string;
  expires_at: NullableBigIntColumn;
  /** JSON object of string tags. */
  tags: string;
  /** 0 or 1. */
  enabled: number;
  revoked_at: NullableBigIntColumn;
  source: string;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
}

/** One budget definition per row, the JSON validated by BudgetSchema on write. */
export interface BudgetsTable {
  id: string;
  scope: string;
  scope_id: string;
  definition: string;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
}

/** Semantic cache entries kept across restarts: the exact key, the semantic namespace and prompt, the answer. */
export interface CacheEntriesTable {
  key: string;
  namespace: string | null;
  prompt: string | null;
  /** The CacheEntry as JSON. */
  entry: string;
  expires_at: BigIntColumn;
}

export interface Schema {
  cache_entries: CacheEntriesTable;
  usage_records: UsageRecordsTable;
  orgs: OrgsTable;
  teams: TeamsTable;
  keys: KeysTable;
  budgets: BudgetsTable;
}

/** A column's element type in Postgres, for the unnest() bulk insert (one array parameter per column). */
export type PgElementType = "text" | "bigint" | "int" | "float8";

export const PG_COLUMN_TYPES: { [T in keyof Schema]: Record<keyof Schema[T] & string, PgElementType> } = {
  usage_records: {
    request_id: "text",
    ts: "bigint",
    key_id: "text",
    team_id: "text",
    org_id: "text",
    end_user: "text",
    alias: "text",
    provider: "text",
    deployment: "text",
    upstream_model: "text",
    region: "text",
    prompt_tokens: "int",
    completion_tokens: "int",
    cached_tokens: "int",
    cache_write_tokens: "int",
    estimated_cost_usd: "float8",
    actual_cost_usd: "float8",
    latency_ms: "int",
    ttft_ms: "int",
    status: "int",
    outcome: "text",
    cache_decision: "text",
    route_decision: "text",
    budget_decision: "text",
    attempts: "text",
    saved_cost_usd: "float8",
    saved_latency_ms: "int",
    stream: "int",
    endpoint: "text",
    error_type: "text",
    prompt_hash: "text",
  },
  orgs: { id: "text", name: "text", source: "text", created_at: "bigint" },
  teams: { id: "text", org_id: "text", name: "text", source: "text", created_at: "bigint" },
  keys: {
    id: "text",
    name: "text",
    team_id: "text",
    org_id: "text",
    key_hash: "text",
    prev_key_hash: "text",
    prev_valid_until: "bigint",
    hint: "text",
    allowed_aliases: "text",
    rpm: "int",
    tpm: "int",
    priority: "text",
    expires_at: "bigint",
    tags: "text",
    enabled: "int",
    revoked_at: "bigint",
    source: "text",
    created_at: "bigint",
    updated_at: "bigint",
  },
  budgets: {
    id: "text",
    scope: "text",
    scope_id: "text",
    definition: "text",
    created_at: "bigint",
    updated_at: "bigint",
  },
  cache_entries: { key: "text", namespace: "text", prompt: "text", entry: "text", expires_at: "bigint" },
};
