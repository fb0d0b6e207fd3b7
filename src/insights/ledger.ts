import { sql } from "kysely";
import type { Store } from "../store/index.js";
import type { RepeatRow, TrafficRow } from "./types.js";

export const DAY_MS = 86_400_000;

/** [fromMs, toMs): the last `maxDays`, or less when the ledger (or its prompt fingerprints) is younger. */
export interface LedgerWindow {
  fromMs: number;
  toMs: number;
  days: number;
}

// Every aggregate reads SUMs and COUNTs, which Postgres returns as strings (bigint, numeric) and SQLite as numbers.
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** From the first record (or the first fingerprinted one) within the last `maxDays`, and at least one day. */
export async function ledgerWindow(
  store: Store,
  nowMs: number,
  maxDays: number,
  fingerprinted = false,
): Promise<LedgerWindow> {
  const earliest = nowMs - maxDays * DAY_MS;
  // Ordered by ts with a limit, so the ts index finds it; the oldest record overall bounds how far back data goes.
  let q = store.db.selectFrom("usage_records").select("ts").orderBy("ts").limit(1);
  q = fingerprinted ? q.where("ts", ">=", earliest).where("prompt_hash", "is not", null) : q;
  const first = await q.executeTakeFirst();
  const fromMs = first === undefined ? nowMs : Math.max(earliest, num(first.ts));
  return { fromMs, toMs: nowMs, days: Math.max(1, (nowMs - fromMs) / DAY_MS) };
}

/** Chat calls that reached an upstream and were priced, per alias and deployment. */
export async function trafficByDeployment(
  store: Store,
  window: LedgerWindow,
  teamId: string | undefined,
): Promise<TrafficRow[]> {
  let q = store.db
    .selectFrom("usage_records")
    .select((eb) => [
      "alias",
      "provider",
      "upstream_model",
      "region",
      "deployment",
      eb.fn.countAll().as("requests"),
      eb.fn.sum("prompt_tokens").as("prompt_tokens"),
      eb.fn.sum("completion_tokens").as("completion_tokens"),
      eb.fn.sum("cached_tokens").as("cached_tokens"),
      eb.fn.sum("cache_write_tokens").as("cache_write_tokens"),
      eb.fn.sum("actual_cost_usd").as("cost_usd"),
    ])
    .where("ts", ">=", window.fromMs)
    .where("ts", "<", window.toMs)
    .where("endpoint", "=", "chat")
    .where("provider", "is not", null)
    .where("actual_cost_usd", "is not", null)
    .groupBy(["alias", "provider", "upstream_model", "region", "deployment"]);
  if (teamId !== undefined) q = q.where("team_id", "=", teamId);
  const out: TrafficRow[] = [];
  for (const r of await q.execute()) {
    if (r.provider === null || r.upstream_model === null || r.deployment === null) continue;
    const prompt = num(r.prompt_tokens);
    const cacheRead = num(r.cached_tokens);
    const cacheWrite = num(r.cache_write_tokens);
    out.push({
      alias: r.alias,
      deployment: r.deployment,
      provider: r.provider,
      model: r.upstream_model,
      region: r.region ?? undefined,
      requests: num(r.requests),
      // As countsOf() prices a usage: input excludes the cached reads and writes.
      tokens: {
        input: Math.max(0, prompt - cacheRead - cacheWrite),
        cacheRead,
        cacheWrite,
        output: num(r.completion_tokens),
      },
      costUsd: num(r.cost_usd),
    });
  }
  return out;
}

/**
 * Per alias, how its upstream calls' prompts repeat. Grouped by (team, alias, fingerprint) first: the cache's
 * default namespace is the team, so the same prompt from two teams is two misses.
 */
export async function promptRepeats(
  store: Store,
  window: LedgerWindow,
  teamId: string | undefined,
): Promise<RepeatRow[]> {
  const team = teamId === undefined ? sql`` : sql`and team_id = ${teamId}`;
  const { rows } = await sql<Record<string, unknown>>`
    select alias, sum(n) as requests, count(*) as prompts, sum(case when n > 1 then 1 else 0 end) as repeated_prompts,
      sum(cost) as cost_usd, sum(cost * cast(n - 1 as double precision) / n) as repeated_cost_usd
    from (
      select team_id, alias, prompt_hash, count(*) as n, sum(actual_cost_usd) as cost
      from usage_records
      where ts >= ${window.fromMs} and ts < ${window.toMs} and prompt_hash is not null
        and provider is not null and actual_cost_usd is not null ${team}
      group by team_id, alias, prompt_hash
    ) per_prompt
    group by alias`.execute(store.db);
  return rows.map((r) => ({
    alias: String(r.alias),
    requests: num(r.requests),
    costUsd: num(r.cost_usd),
    repeatedRequests: num(r.requests) - num(r.prompts),
    repeatedCostUsd: num(r.repeated_cost_usd),
    repeatedPrompts: num(r.repeated_prompts),
  }));
}

/** What a budget counts, as ledger filters. */
export interface BudgetFilter {
  scope: "org" | "team" | "key";
  id: string;
  alias?: string | undefined;
  provider?: string | undefined;
}

const SCOPE_COLUMN = { org: "org_id", team: "team_id", key: "key_id" } as const;

/** Spend and tokens per UTC day of the window, oldest first, of the requests a budget counts. */
export async function dailySpend(
  store: Store,
  window: LedgerWindow,
  filter: BudgetFilter,
): Promise<{ usd: number[]; tokens: number[] }> {
  const firstDay = Math.floor(window.fromMs / DAY_MS);
  const days = Math.floor((window.toMs - 1) / DAY_MS) - firstDay + 1;
  const usd = new Array<number>(Math.max(1, days)).fill(0);
  const tokens = new Array<number>(Math.max(1, days)).fill(0);
  let q = store.db
    .selectFrom("usage_records")
    .select((eb) => [
      // The literal is inlined so Postgres sees the grouped and the selected expression as one.
      sql<number | string>`ts / ${sql.lit(DAY_MS)}`.as("day"),
      eb.fn.sum("actual_cost_usd").as("usd"),
      eb.fn.sum(eb("prompt_tokens", "+", eb.ref("completion_tokens"))).as("tokens"),
    ])
    .where("ts", ">=", window.fromMs)
    .where("ts", "<", window.toMs)
    .where(SCOPE_COLUMN[filter.scope], "=", filter.id)
    .groupBy(sql`1`);
  if (filter.alias !== undefined) q = q.where("alias", "=", filter.alias);
  if (filter.provider !== undefined) q = q.where("provider", "=", filter.provider);
  for (const r of await q.execute()) {
    const i = Math.floor(num(r.day)) - firstDay;
    if (i < 0 || i >= usd.length) continue;
    usd[i] = num(r.usd);
    tokens[i] = num(r.tokens);
  }
  return { usd, tokens };
}
