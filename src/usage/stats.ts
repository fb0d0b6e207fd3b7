import { type AliasableExpression, type ExpressionBuilder, sql } from "kysely";
import type { Schema, Store } from "../store/index.js";
import { applyFilters, type UsageFilters } from "./query.js";
import { fromRow, type UsageRecord } from "./record.js";

/** The second dimension of a spend series; "none" gives one series. */
export type SeriesBy = "team" | "model" | "key" | "alias" | "none";

export interface SeriesRow {
  /** Bucket start, ms epoch (UTC-aligned). */
  bucketMs: number;
  group: string | null;
  requests: number;
  costUsd: number;
}

export interface CacheRow {
  /** Bucket start (ms epoch) or alias, per the grouping asked for; null when ungrouped. */
  group: string | number | null;
  requests: number;
  /** Requests the cache was consulted for (hit, semantic hit or miss). */
  lookups: number;
  hits: number;
  semanticHits: number;
  savedUsd: number;
  savedLatencyMs: number;
}

/** One upstream-served request, for percentiles computed in JS (neither dialect shares a percentile function). */
export interface CallSample {
  ts: number;
  alias: string;
  deployment: string;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  failed: boolean;
  costUsd: number | null;
}

type Eb = ExpressionBuilder<Schema, "usage_records">;

// Integer division on the bigint ms column, inlined so Postgres sees the grouped and selected expressions as one.
const bucket = (ms: number) => sql<number | string>`(ts / ${sql.lit(ms)}) * ${sql.lit(ms)}`;

const SERIES_GROUP: Record<Exclude<SeriesBy, "none">, (eb: Eb) => AliasableExpression<unknown>> = {
  team: (eb) => eb.ref("team_id"),
  key: (eb) => eb.ref("key_id"),
  alias: (eb) => eb.ref("alias"),
  // The model that served; the alias when no upstream call was made (as queryUsage's "model" group).
  model: (eb) => eb.fn.coalesce("upstream_model", "alias"),
};

/** Requests and spend per time bucket and, unless `by` is "none", per team, key, alias or model. */
export async function spendSeries(
  store: Store,
  filters: UsageFilters,
  bucketMs: number,
  by: SeriesBy,
): Promise<SeriesRow[]> {
  const q = applyFilters(
    store.db
      .selectFrom("usage_records")
      .select((eb) => [
        bucket(bucketMs).as("bkt"),
        (by === "none" ? sql<null>`null` : SERIES_GROUP[by](eb)).as("grp"),
        eb.fn.countAll().as("requests"),
        eb.fn.coalesce(eb.fn.sum("actual_cost_usd"), sql.lit(0)).as("cost_usd"),
      ]),
    filters,
  ).groupBy([sql`1`, sql`2`]);
  const rows = await q.execute();
  return rows
    .map((r) => ({
      bucketMs: Number(r.bkt),
      group: r.grp === null || r.grp === undefined ? null : String(r.grp),
      requests: Number(r.requests),
      costUsd: Number(r.cost_usd),
    }))
    .sort((a, b) => a.bucketMs - b.bucketMs);
}

function groupExpr(eb: Eb, group: { bucketMs: number } | "alias" | "none"): AliasableExpression<unknown> {
  if (group === "none") return sql<null>`null`;
  return group === "alias" ? eb.ref("alias") : bucket(group.bucketMs);
}

/** Cache lookups, hits and what they saved, per time bucket, per alias, or in total. */
export async function cacheStats(
  store: Store,
  filters: UsageFilters,
  group: { bucketMs: number } | "alias" | "none",
): Promise<CacheRow[]> {
  const decided = ["hit", "semantic-hit", "miss"];
  let q = applyFilters(
    store.db
      .selectFrom("usage_records")
      .select((eb) => [
        groupExpr(eb, group).as("grp"),
        eb.fn.countAll().as("requests"),
        eb.fn.sum(eb.case().when("cache_decision", "in", decided).then(1).else(0).end()).as("lookups"),
        eb.fn.sum(eb.case().when("outcome", "=", "cache_hit").then(1).else(0).end()).as("hits"),
        eb.fn.sum(eb.case().when("cache_decision", "=", "semantic-hit").then(1).else(0).end()).as("semantic_hits"),
        eb.fn.coalesce(eb.fn.sum("saved_cost_usd"), sql.lit(0)).as("saved_usd"),
        eb.fn.coalesce(eb.fn.sum("saved_latency_ms"), sql.lit(0)).as("saved_latency_ms"),
      ]),
    filters,
  );
  if (group !== "none") q = q.groupBy(sql`1`);
  const rows = await q.execute();
  return rows.map((r) => ({
    group: r.grp === null || r.grp === undefined ? null : typeof group === "object" ? Number(r.grp) : String(r.grp),
    requests: Number(r.requests),
    lookups: Number(r.lookups ?? 0),
    hits: Number(r.hits ?? 0),
    semanticHits: Number(r.semantic_hits ?? 0),
    savedUsd: Number(r.saved_usd),
    savedLatencyMs: Number(r.saved_latency_ms),
  }));
}

/** The newest records first; `beforeMs` pages back from an earlier answer's last timestamp. */
export async function recentRecords(
  store: Store,
  filters: UsageFilters,
  limit: number,
  beforeMs?: number,
): Promise<UsageRecord[]> {
  let q = applyFilters(store.db.selectFrom("usage_records").selectAll(), filters);
  if (beforeMs !== undefined) q = q.where("ts", "<", beforeMs);
  const rows = await q.orderBy("ts", "desc").orderBy("request_id", "desc").limit(limit).execute();
  return rows.map(fromRow);
}

/** The newest `limit` requests that reached an upstream deployment (no cache hits or budget refusals). */
export async function callSamples(store: Store, filters: UsageFilters, limit: number): Promise<CallSample[]> {
  const rows = await applyFilters(
    store.db
      .selectFrom("usage_records")
      .select(["ts", "alias", "deployment", "latency_ms", "ttft_ms", "stream", "outcome", "actual_cost_usd"]),
    filters,
  )
    .where("deployment", "is not", null)
    .where("outcome", "not in", ["cache_hit", "budget_block"])
    .orderBy("ts", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    ts: Number(r.ts),
    alias: r.alias,
    deployment: String(r.deployment),
    latencyMs: Number(r.latency_ms),
    ttftMs: r.ttft_ms === null ? null : Number(r.ttft_ms),
    stream: Number(r.stream) === 1,
    failed: r.outcome === "error" || r.outcome === "upstream_cut",
    costUsd: r.actual_cost_usd === null ? null : Number(r.actual_cost_usd),
  }));
}

/** One minute of one (org, team, key): what the anomaly detector reads from the shared ledger. */
export interface ScopeMinute {
  /** Minute start, ms epoch. */
  minuteMs: number;
  orgId: string | null;
  teamId: string | null;
  keyId: string | null;
  requests: number;
  /** Requests with a cost (a cache hit or a refusal costs nothing and says nothing about the price). */
  pricedRequests: number;
  costUsd: number;
}

/** Requests and spend per minute and identity in [fromMs, toMs), oldest first; the same on both dialects. */
export async function scopeMinutes(store: Store, fromMs: number, toMs: number): Promise<ScopeMinute[]> {
  const rows = await applyFilters(
    store.db
      .selectFrom("usage_records")
      .select((eb) => [
        bucket(60_000).as("minute"),
        "org_id",
        "team_id",
        "key_id",
        eb.fn.countAll().as("requests"),
        eb.fn.sum(eb.case().when("actual_cost_usd", ">", 0).then(sql.lit(1)).else(sql.lit(0)).end()).as("priced"),
        eb.fn.coalesce(eb.fn.sum("actual_cost_usd"), sql.lit(0)).as("cost_usd"),
      ]),
    { from: fromMs, to: toMs },
  )
    .groupBy([sql`1`, "org_id", "team_id", "key_id"])
    .execute();
  return rows
    .map((r) => ({
      minuteMs: Number(r.minute),
      orgId: r.org_id ?? null,
      teamId: r.team_id ?? null,
      keyId: r.key_id ?? null,
      requests: Number(r.requests),
      pricedRequests: Number(r.priced ?? 0),
      costUsd: Number(r.cost_usd),
    }))
    .sort((a, b) => a.minuteMs - b.minuteMs);
}

/** The time of the first record at or after `fromMs` (an index seek), or undefined when there is none. */
export async function firstRecordAt(store: Store, fromMs: number): Promise<number | undefined> {
  const row = await store.db
    .selectFrom("usage_records")
    .select((eb) => eb.fn.min("ts").as("first"))
    .where("ts", ">=", fromMs)
    .executeTakeFirst();
  return row?.first === null || row?.first === undefined ? undefined : Number(row.first);
}
