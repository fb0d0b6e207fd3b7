import { type AliasableExpression, type ExpressionBuilder, type SelectQueryBuilder, sql } from "kysely";
import type { Schema, Store } from "../store/index.js";
import { fromRow, type UsageRecord } from "./record.js";

export type UsageGroupBy = "day" | "hour" | "key" | "team" | "model" | "provider";

export interface UsageFilters {
  /** Inclusive start, ms epoch or Date. */
  from?: number | Date;
  /** Exclusive end, ms epoch or Date. */
  to?: number | Date;
  keyId?: string;
  teamId?: string;
  orgId?: string;
  alias?: string;
  provider?: string;
}

export interface UsageQuery extends UsageFilters {
  groupBy?: UsageGroupBy;
}

export interface UsageSummaryRow {
  /** Bucket start as an ISO time (UTC) for day/hour; the key, team, model or provider otherwise; null when
   * ungrouped or the record has no such field (e.g. no key on a request refused before auth). */
  group: string | null;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Sum of actual cost. */
  costUsd: number;
  estimatedCostUsd: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

type Eb = ExpressionBuilder<Schema, "usage_records">;

// Buckets by integer arithmetic on the bigint ms column (integer division in both SQLite and Postgres), so
// neither dialect's date functions are needed. Days are UTC days. The literal is inlined: Postgres wants the
// grouped expression identical to the selected one, which two bind parameters would not be.
const bucket = (ms: number) => sql<number | string>`(ts / ${sql.lit(ms)}) * ${sql.lit(ms)}`;

const GROUP_EXPR: Record<UsageGroupBy, (eb: Eb) => AliasableExpression<unknown>> = {
  day: () => bucket(DAY_MS),
  hour: () => bucket(HOUR_MS),
  key: (eb) => eb.ref("key_id"),
  team: (eb) => eb.ref("team_id"),
  // The model that served (and was paid for); the alias when no upstream call was made (cache hit, budget block).
  model: (eb) => eb.fn.coalesce("upstream_model", "alias"),
  provider: (eb) => eb.ref("provider"),
};

export function applyFilters<O>(
  q: SelectQueryBuilder<Schema, "usage_records", O>,
  f: UsageFilters,
): SelectQueryBuilder<Schema, "usage_records", O> {
  if (f.from !== undefined) q = q.where("ts", ">=", Number(f.from));
  if (f.to !== undefined) q = q.where("ts", "<", Number(f.to));
  if (f.keyId !== undefined) q = q.where("key_id", "=", f.keyId);
  if (f.teamId !== undefined) q = q.where("team_id", "=", f.teamId);
  if (f.orgId !== undefined) q = q.where("org_id", "=", f.orgId);
  if (f.alias !== undefined) q = q.where("alias", "=", f.alias);
  if (f.provider !== undefined) q = q.where("provider", "=", f.provider);
  return q;
}

/** Spend and tokens over the filters, optionally grouped; the same rows on SQLite and Postgres. */
export async function queryUsage(store: Store, query: UsageQuery = {}): Promise<UsageSummaryRow[]> {
  const groupBy = query.groupBy;
  let q = applyFilters(
    store.db
      .selectFrom("usage_records")
      .select((eb) => [
        (groupBy ? GROUP_EXPR[groupBy](eb) : sql<null>`null`).as("grp"),
        eb.fn.countAll().as("requests"),
        eb.fn.coalesce(eb.fn.sum("prompt_tokens"), sql.lit(0)).as("prompt_tokens"),
        eb.fn.coalesce(eb.fn.sum("completion_tokens"), sql.lit(0)).as("completion_tokens"),
        eb.fn.coalesce(eb.fn.sum("cached_tokens"), sql.lit(0)).as("cached_tokens"),
        eb.fn.coalesce(eb.fn.sum("actual_cost_usd"), sql.lit(0)).as("cost_usd"),
        eb.fn.coalesce(eb.fn.sum("estimated_cost_usd"), sql.lit(0)).as("estimated_cost_usd"),
      ]),
    query,
  );
  if (groupBy) q = q.groupBy(sql`1`);
  const raw = await q.execute();
  const rows = raw.map(
    (r): UsageSummaryRow => ({
      group: groupLabel(groupBy, r.grp),
      requests: Number(r.requests),
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      cachedTokens: Number(r.cached_tokens),
      costUsd: Number(r.cost_usd),
      estimatedCostUsd: Number(r.estimated_cost_usd),
    }),
  );
  // Sorted here, not in SQL: the dialects order NULLs and collate text differently.
  return rows.sort((a, b) => compareGroups(a.group, b.group));
}

function groupLabel(groupBy: UsageGroupBy | undefined, value: unknown): string | null {
  if (value === null || value === undefined || !groupBy) return null;
  if (groupBy === "day" || groupBy === "hour") return new Date(Number(value)).toISOString();
  return String(value);
}

function compareGroups(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/** Raw records, oldest first, for tests and the admin API. */
export async function listRecords(store: Store, filters: UsageFilters = {}, limit = 1000): Promise<UsageRecord[]> {
  const rows = await applyFilters(store.db.selectFrom("usage_records").selectAll(), filters)
    .orderBy("ts")
    .orderBy("request_id")
    .limit(limit)
    .execute();
  return rows.map(fromRow);
}

const CSV_COLUMNS = [
  "group",
  "requests",
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "cost_usd",
  "estimated_cost_usd",
] as const;

/** RFC 4180: a field with a comma, quote, CR or LF is quoted and its quotes doubled; CRLF line ends. */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(rows: readonly UsageSummaryRow[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [r.group, r.requests, r.promptTokens, r.completionTokens, r.cachedTokens, r.costUsd, r.estimatedCostUsd]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
