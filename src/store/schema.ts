import type { ColumnType } from "kysely";

/** A BIGINT column: Postgres returns int8 as a string (it may exceed 2^53), SQLite as a number. */
type BigIntColumn = ColumnType<number | string, number, number>;

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
  /** 0 or 1: SQLite has no boolean and better-sqlite3 cannot bind one. */
  stream: number;
  endpoint: string;
  error_type: string | null;
}

export interface Schema {
  usage_records: UsageRecordsTable;
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
    stream: "int",
    endpoint: "text",
    error_type: "text",
  },
};
