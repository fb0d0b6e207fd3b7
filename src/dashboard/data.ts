import type { BudgetDefinition } from "../budget/definition.js";
import { periodBucket } from "../budget/periods.js";
import { scopeLabelOf } from "../budget/scopes.js";
import {
  type CallSample,
  cacheStats,
  callSamples,
  queryUsage,
  recentRecords,
  type SeriesBy,
  spendSeries,
  type UsageFilters,
  type UsageGroupBy,
  type UsageRecord,
} from "../usage/index.js";
import {
  type BudgetSources,
  type ForecastScope,
  forecastMatches,
  forecastsFor,
  type Viewer,
  visibleDefinitions,
} from "./budgets.js";

export interface DashboardSources extends BudgetSources {
  /** Live per-deployment state from the router (breaker, eligibility); absent: the models view has ledger figures only. */
  routing?: { report(): Record<string, unknown>[] } | undefined;
  /** Key id -> name, for the top keys and recent requests. */
  keyNames?(teamId: string | undefined): Promise<ReadonlyMap<string, string>>;
  /** Team ids the admin can pick from (tenancy); teams seen only in the ledger are added. */
  teamIds?(): Promise<readonly string[]>;
  /** Whether GET /api/recommendations is mounted: the page asks it only then. */
  recommendations?: boolean;
}

export const DAY_MS = 86_400_000;
const TOP = 5;
const SERIES_MAX = 6;
// Percentiles are computed in JS from the newest calls: bounded so a busy ledger cannot make the page slow.
const SAMPLE_LIMIT = 50_000;

const teamFilter = (viewer: Viewer): UsageFilters => (viewer.teamId === undefined ? {} : { teamId: viewer.teamId });

export async function whoami(src: DashboardSources, viewer: Viewer) {
  let teams: string[] = viewer.teamId === undefined ? [] : [viewer.teamId];
  if (viewer.teamId === undefined) {
    const [known, seen] = await Promise.all([
      src.teamIds?.() ?? Promise.resolve([]),
      queryUsage(src.store, { groupBy: "team" }),
    ]);
    const ids = new Set(known);
    for (const row of seen) if (row.group !== null) ids.add(row.group);
    teams = [...ids].sort();
  }
  return {
    object: "dashboard.viewer",
    role: viewer.teamId === undefined ? "admin" : "team",
    team_id: viewer.teamId ?? null,
    teams,
    timezone: src.timezone,
    forecasts: src.forecasts !== undefined,
    recommendations: src.recommendations === true,
    // The ledger stores no prompt or completion text, so there is nothing to show or to enable.
    prompt_bodies: false,
  };
}

/** Spend today and this month vs budget, the projected month end, the top teams, models and keys. */
export async function overview(src: DashboardSources, viewer: Viewer, nowMs: number) {
  const f = teamFilter(viewer);
  const today = periodBucket("daily", src.timezone, nowMs);
  const month = periodBucket("monthly", src.timezone, nowMs);
  const top = (group: UsageGroupBy) => queryUsage(src.store, { ...f, from: month.startMs, groupBy: group });
  const [[todayRow], [periodRow], teams, models, keys, names, defs, forecasts, daily] = await Promise.all([
    queryUsage(src.store, { ...f, from: today.startMs }),
    queryUsage(src.store, { ...f, from: month.startMs }),
    top("team"),
    top("model"),
    top("key"),
    src.keyNames?.(viewer.teamId) ?? Promise.resolve(new Map<string, string>()),
    visibleDefinitions(src, viewer),
    forecastsFor(src.forecasts, viewer, nowMs),
    spendSeries(src.store, { ...f, from: Math.floor(month.startMs / DAY_MS) * DAY_MS }, DAY_MS, "none"),
  ]);
  const budget = mainBudget(defs, viewer);
  const forecast = budget ? forecasts.find((x) => forecastMatches(x, budget)) : undefined;
  const ranked = (rows: Awaited<ReturnType<typeof top>>) =>
    rows
      .filter((r) => r.group !== null)
      .sort((a, b) => b.costUsd - a.costUsd)
      .slice(0, TOP)
      .map((r) => ({ id: r.group as string, spend_usd: r.costUsd, requests: r.requests }));
  return {
    object: "dashboard.overview",
    team_id: viewer.teamId ?? null,
    timezone: src.timezone,
    now: new Date(nowMs).toISOString(),
    today: {
      start: new Date(today.startMs).toISOString(),
      spend_usd: todayRow?.costUsd ?? 0,
      requests: todayRow?.requests ?? 0,
    },
    period: {
      name: "monthly",
      start: new Date(month.startMs).toISOString(),
      end: new Date(month.endMs ?? nowMs).toISOString(),
      spend_usd: periodRow?.costUsd ?? 0,
      requests: periodRow?.requests ?? 0,
      budget_usd: budget?.limit_usd ?? null,
      budget_scope: budget ? scopeLabelOf(budget) : null,
      budget_level: budget?.level ?? null,
      // UTC days, as the ledger buckets them.
      daily: daily.map((d) => ({ day: new Date(d.bucketMs).toISOString().slice(0, 10), spend_usd: d.costUsd })),
    },
    forecast: forecast ? forecastView(forecast) : null,
    forecasts: forecasts.map(forecastView),
    top: {
      teams: ranked(teams),
      models: ranked(models),
      keys: ranked(keys).map((k) => ({ ...k, name: names.get(k.id) ?? null })),
    },
  };
}

/** The budget the overview compares the month with: the team's own, or (admin) the one org's. */
function mainBudget(defs: readonly BudgetDefinition[], viewer: Viewer): BudgetDefinition | undefined {
  const scope = viewer.teamId === undefined ? "org" : "team";
  const whole = defs.filter(
    (d) =>
      d.scope === scope &&
      d.alias === undefined &&
      d.provider === undefined &&
      d.period === "monthly" &&
      d.limit_usd !== undefined &&
      (viewer.teamId === undefined || d.id === viewer.teamId),
  );
  // Several orgs have no one budget to compare all spend with.
  if (new Set(whole.map((d) => d.id)).size !== 1) return undefined;
  return whole.sort((a, b) => (a.limit_usd ?? 0) - (b.limit_usd ?? 0))[0];
}

function forecastView(f: ForecastScope) {
  return {
    scope: f.scope,
    kind: f.kind,
    id: f.id,
    period: f.period,
    period_end: f.periodEnd,
    spent_to_date_usd: f.spentToDateUsd,
    period_end_usd: f.forecastPeriodEndUsd,
    low: f.low,
    high: f.high,
    method: f.method,
    insufficient_data: f.insufficientData,
    breaches: f.breaches.map((b) => ({ level: b.level, limit_usd: b.limitUsd, date: b.date })),
    // Cumulative spend in the period at the end of each forecast day (local days of budgets.timezone).
    path: (f.days ?? []).map((d) => ({
      day: d.day,
      usd: f.spentToDateUsd + (d.cumUsd ?? 0),
      low: f.spentToDateUsd + (d.cumLow ?? 0),
      high: f.spentToDateUsd + (d.cumHigh ?? 0),
    })),
  };
}

/** Spend and requests per day (or hour), one series per team, model, key or alias: the largest, then "other". */
export async function timeseries(
  src: DashboardSources,
  viewer: Viewer,
  nowMs: number,
  opts: { days: number; by: SeriesBy; bucketMs: number },
) {
  // `days` whole buckets ending with the current one.
  const start = Math.floor(nowMs / opts.bucketMs) * opts.bucketMs - (opts.days * DAY_MS - opts.bucketMs);
  const rows = await spendSeries(src.store, { ...teamFilter(viewer), from: start }, opts.bucketMs, opts.by);
  const buckets: number[] = [];
  for (let t = start; t <= nowMs; t += opts.bucketMs) buckets.push(t);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.group ?? "(none)", (totals.get(r.group ?? "(none)") ?? 0) + r.costUsd);
  const named = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([name]) => name);
  const kept = new Set(named.length > SERIES_MAX ? named.slice(0, SERIES_MAX - 1) : named);
  const series = new Map<string, { name: string; cost_usd: number[]; requests: number[] }>();
  const line = (name: string) => {
    let s = series.get(name);
    if (s === undefined) {
      s = { name, cost_usd: buckets.map(() => 0), requests: buckets.map(() => 0) };
      series.set(name, s);
    }
    return s;
  };
  for (const name of named) if (kept.has(name)) line(name);
  for (const r of rows) {
    const i = index.get(r.bucketMs);
    if (i === undefined) continue;
    const name = r.group ?? "(none)";
    const s = line(kept.has(name) ? name : "other");
    s.cost_usd[i] = (s.cost_usd[i] ?? 0) + r.costUsd;
    s.requests[i] = (s.requests[i] ?? 0) + r.requests;
  }
  return {
    object: "dashboard.timeseries",
    by: opts.by,
    bucket_ms: opts.bucketMs,
    buckets,
    series: [...series.values()],
  };
}

/** Per alias and deployment over the window: latency and TTFT percentiles, errors, selection share, cost, breaker. */
export async function models(src: DashboardSources, viewer: Viewer, nowMs: number, days: number) {
  const from = windowStart(nowMs, days);
  const samples = await callSamples(src.store, { ...teamFilter(viewer), from }, SAMPLE_LIMIT);
  const groups = new Map<string, CallSample[]>();
  const perAlias = new Map<string, number>();
  for (const s of samples) {
    const key = `${s.alias}\u0000${s.deployment}`;
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
    perAlias.set(s.alias, (perAlias.get(s.alias) ?? 0) + 1);
  }
  const live = new Map<string, Record<string, unknown>>();
  for (const r of src.routing?.report() ?? []) live.set(`${r.alias}\u0000${r.deployment}`, r);
  for (const key of live.keys()) if (!groups.has(key)) groups.set(key, []);
  const buckets: number[] = [];
  for (let t = from; t <= nowMs; t += DAY_MS) buckets.push(t);
  const rows = [...groups.entries()].map(([key, list]) => {
    const [alias, deployment] = key.split("\u0000") as [string, string];
    const ok = list.filter((s) => !s.failed);
    const costed = list.filter((s) => s.costUsd !== null);
    const state = live.get(key);
    return {
      alias,
      deployment,
      requests: list.length,
      errors: list.length - ok.length,
      error_rate: list.length ? (list.length - ok.length) / list.length : 0,
      p50_ms: percentile(
        ok.map((s) => s.latencyMs),
        50,
      ),
      p95_ms: percentile(
        ok.map((s) => s.latencyMs),
        95,
      ),
      ttft_p50_ms: percentile(ttfts(ok), 50),
      ttft_p95_ms: percentile(ttfts(ok), 95),
      cost_per_request_usd: costed.length ? costed.reduce((sum, s) => sum + (s.costUsd ?? 0), 0) / costed.length : null,
      selection_share: list.length ? list.length / (perAlias.get(alias) ?? list.length) : 0,
      breaker: typeof state?.breaker === "string" ? state.breaker : null,
      eligible: typeof state?.eligible === "boolean" ? state.eligible : null,
      daily_p95_ms: buckets.map((b) =>
        percentile(
          ok.filter((s) => s.ts >= b && s.ts < b + DAY_MS).map((s) => s.latencyMs),
          95,
        ),
      ),
    };
  });
  rows.sort((a, b) => (a.alias === b.alias ? b.requests - a.requests : a.alias < b.alias ? -1 : 1));
  return { object: "dashboard.models", window_days: days, sampled: samples.length, buckets, data: rows };
}

/** Midnight UTC starting a window of `days` days that ends today. */
const windowStart = (nowMs: number, days: number) => (Math.floor(nowMs / DAY_MS) - days + 1) * DAY_MS;

const ttfts = (list: CallSample[]) => list.flatMap((s) => (s.ttftMs === null ? [] : [s.ttftMs]));

/** Nearest-rank percentile, as the router's own figures; null without samples. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = values.sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? null;
}

/** Hit rate and what hits saved, in total, per alias and per day. */
export async function cache(src: DashboardSources, viewer: Viewer, nowMs: number, days: number) {
  const from = windowStart(nowMs, days);
  const f = { ...teamFilter(viewer), from };
  const [[total], byAlias, byDay] = await Promise.all([
    cacheStats(src.store, f, "none"),
    cacheStats(src.store, f, "alias"),
    cacheStats(src.store, f, { bucketMs: DAY_MS }),
  ]);
  const rate = (r: { hits: number; lookups: number }) => (r.lookups ? r.hits / r.lookups : null);
  const view = (r: NonNullable<typeof total>) => ({
    requests: r.requests,
    lookups: r.lookups,
    hits: r.hits,
    semantic_hits: r.semanticHits,
    hit_rate: rate(r),
    saved_usd: r.savedUsd,
    saved_latency_ms: r.savedLatencyMs,
  });
  const buckets: number[] = [];
  for (let t = from; t <= nowMs; t += DAY_MS) buckets.push(t);
  const day = new Map(byDay.map((r) => [Number(r.group), r]));
  return {
    object: "dashboard.cache",
    window_days: days,
    totals: total
      ? view(total)
      : view({ group: null, requests: 0, lookups: 0, hits: 0, semanticHits: 0, savedUsd: 0, savedLatencyMs: 0 }),
    by_alias: byAlias
      .filter((r) => r.lookups > 0)
      .sort((a, b) => b.savedUsd - a.savedUsd)
      .map((r) => ({ alias: String(r.group), ...view(r) })),
    buckets,
    daily: {
      hit_rate: buckets.map((b) => {
        const r = day.get(b);
        return r ? rate(r) : null;
      }),
      hits: buckets.map((b) => day.get(b)?.hits ?? 0),
      saved_usd: buckets.map((b) => day.get(b)?.savedUsd ?? 0),
    },
  };
}

/** The newest requests, newest first. No prompt or completion text: the ledger has none. */
export async function requests(
  src: DashboardSources,
  viewer: Viewer,
  opts: { limit: number; beforeMs?: number | undefined },
) {
  const [records, names] = await Promise.all([
    recentRecords(src.store, teamFilter(viewer), opts.limit, opts.beforeMs),
    src.keyNames?.(viewer.teamId) ?? Promise.resolve(new Map<string, string>()),
  ]);
  const last = records.at(-1);
  return {
    object: "list",
    prompt_bodies: false,
    data: records.map((r) => requestRow(r, names)),
    next_before: records.length === opts.limit && last ? last.ts : null,
  };
}

function requestRow(r: UsageRecord, names: ReadonlyMap<string, string>) {
  return {
    ts: new Date(r.ts).toISOString(),
    request_id: r.requestId,
    key_id: r.keyId ?? null,
    key_name: r.keyId ? (names.get(r.keyId) ?? null) : null,
    team_id: r.teamId ?? null,
    end_user: r.endUser ?? null,
    alias: r.alias,
    deployment: r.deployment ?? null,
    endpoint: r.endpoint,
    stream: r.stream,
    status: r.status,
    outcome: r.outcome,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    cached_tokens: r.cachedTokens,
    cost_usd: r.actualCostUsd ?? null,
    estimated_cost_usd: r.estimatedCostUsd ?? null,
    saved_usd: r.savedCostUsd ?? null,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs ?? null,
    cache: r.cacheDecision ?? null,
    route: r.routeDecision ?? null,
    budget: r.budgetDecision ?? null,
    attempts: r.attempts ?? null,
    error_type: r.errorType ?? null,
  };
}
