import type { BudgetDefinition } from "../budget/definition.js";
import { type BudgetPeriod, type PeriodBucket, periodBucket, zonedMidnight } from "../budget/periods.js";
import { scopeKeyOf, scopeLabelOf, usageFiltersOf } from "../budget/scopes.js";
import type { Store } from "../store/index.js";
import { queryUsage, type UsageFilters } from "../usage/query.js";
import { projectBreaches } from "./breaches.js";
import { forecastDaily, runRateForecast } from "./forecast.js";
import type { BreachProjection, DailyPoint, ForecastDay, ForecastMethod, SpendForecast } from "./types.js";

/** Where the budget definitions come from: a list, or a function read at every recompute (config + BudgetStore). */
export type BudgetDefinitionsSource =
  | readonly BudgetDefinition[]
  | (() => readonly BudgetDefinition[] | Promise<readonly BudgetDefinition[]>);

export interface ForecastServiceOptions {
  /** IANA zone days and periods align to: budgets.timezone. Default UTC. */
  timeZone?: string;
  /** Days of ledger history a series is built from (before today). Default 91 (13 weeks). */
  historyDays?: number;
  /** scopes() recomputes when its last result is older than this. Default 5 minutes. */
  cacheTtlMs?: number;
  /** A "total" budget never resets: forecast this many days ahead for it. Default 30. */
  totalHorizonDays?: number;
  now?: () => number;
}

export interface ScopeFilter {
  /** The team's budget and its keys' budgets. */
  teamId?: string;
  /** The org's budget and its teams' and keys' budgets. */
  orgId?: string;
}

/** One budget scope and period: spend so far, where it is heading, and when each of its limits is reached. */
export interface ScopeProjection {
  /** Label, e.g. "team blue, alias chat". */
  scope: string;
  /** Counter key prefix, e.g. "team:blue:alias=chat". */
  scopeKey: string;
  kind: BudgetDefinition["scope"];
  id: string;
  alias?: string;
  provider?: string;
  /** The owning team and org, where known (a key's from the keys table). */
  teamId?: string;
  orgId?: string;
  period: BudgetPeriod;
  /** ISO; null for a "total" budget. */
  periodStart: string | null;
  periodEnd: string | null;
  /** End of the last forecast day: periodEnd, or totalHorizonDays ahead for a "total" budget. */
  horizonEnd: string;
  spentToDateUsd: number;
  /** Spent so far plus the forecast for the rest of the period, with its ~80% band. */
  forecastPeriodEndUsd: number;
  low: number;
  high: number;
  method: ForecastMethod;
  insufficientData: boolean;
  /** Complete days of history the forecast used (from the scope's first spend in the window). */
  historyDays: number;
  backtestMape: SpendForecast["backtestMape"];
  /** Today (what is left of it) through the period's last day. */
  days: ForecastDay[];
  /** One per USD limit (soft and hard), lowest first. */
  breaches: BreachProjection[];
}

const DAY_MS = 86_400_000;

/**
 * Spend forecasts per budget scope from the usage ledger. Days are local days in the budgets' time zone, built
 * from the ledger's hourly buckets (so a zone offset by half an hour puts up to 30 minutes in the wrong day).
 * Results are cached for cacheTtlMs; refresh() refits now (nightly, or on demand). No HTTP here.
 */
export class ForecastService {
  private readonly timeZone: string;
  private readonly historyDays: number;
  private readonly cacheTtlMs: number;
  private readonly totalHorizonDays: number;
  private readonly now: () => number;
  private cached: { at: number; result: Promise<ScopeProjection[]> } | undefined;

  constructor(
    private readonly store: Store,
    private readonly definitions: BudgetDefinitionsSource,
    options: ForecastServiceOptions = {},
  ) {
    this.timeZone = options.timeZone ?? "UTC";
    this.historyDays = options.historyDays ?? 91;
    this.cacheTtlMs = options.cacheTtlMs ?? 300_000;
    this.totalHorizonDays = options.totalHorizonDays ?? 30;
    this.now = options.now ?? Date.now;
  }

  /** Projections for every budget (or those under a team or org), from cache when fresh. */
  async scopes(nowMs: number = this.now(), filter: ScopeFilter = {}): Promise<ScopeProjection[]> {
    const c = this.cached;
    const all = c && Math.abs(nowMs - c.at) < this.cacheTtlMs ? await c.result : await this.refresh(nowMs);
    return all.filter(
      (p) =>
        (filter.teamId === undefined || p.teamId === filter.teamId) &&
        (filter.orgId === undefined || p.orgId === filter.orgId),
    );
  }

  /** Refits every scope now and caches the result. */
  refresh(nowMs: number = this.now()): Promise<ScopeProjection[]> {
    const result = this.compute(nowMs);
    this.cached = { at: nowMs, result };
    // A failed computation is not cached: the next call retries.
    result.catch(() => {
      if (this.cached?.result === result) this.cached = undefined;
    });
    return result;
  }

  private async compute(nowMs: number): Promise<ScopeProjection[]> {
    const defs = typeof this.definitions === "function" ? await this.definitions() : this.definitions;
    const days = this.localDays(nowMs);
    const owners = await this.owners(defs);
    // Budgets on the same scope share one series; each period of it gets its own projection.
    const byScope = new Map<string, Map<BudgetPeriod, BudgetDefinition[]>>();
    for (const def of defs) {
      const key = scopeKeyOf(def);
      let periods = byScope.get(key);
      if (!periods) {
        periods = new Map();
        byScope.set(key, periods);
      }
      const list = periods.get(def.period);
      if (list) list.push(def);
      else periods.set(def.period, [def]);
    }
    const out: ScopeProjection[] = [];
    for (const [scopeKey, periods] of byScope) {
      const first = [...periods.values()][0]?.[0] as BudgetDefinition;
      const series = await this.dailySpend(usageFiltersOf(first), days, nowMs);
      const spans = [...periods].map(([period, defs]): PeriodSpan => {
        const bucket = periodBucket(period, this.timeZone, nowMs);
        const horizon =
          bucket.endMs === undefined
            ? this.totalHorizonDays
            : Math.max(1, Math.round((bucket.endMs - days.todayStartMs) / DAY_MS));
        return { period, defs, bucket, horizon };
      });
      // One fit per series, to the longest period's end: a shorter period's forecast is its prefix.
      const longest = Math.max(...spans.map((s) => s.horizon));
      const fit = remainderOfToday(this.forecast(series, days, longest), days.elapsedToday);
      for (const span of spans) {
        const forecast = { ...fit, days: fit.days.slice(0, span.horizon) };
        out.push(await this.project(scopeKey, first, span, forecast, series, days, nowMs, owners));
      }
    }
    return out;
  }

  private async project(
    scopeKey: string,
    def: BudgetDefinition,
    { period, defs, bucket, horizon }: PeriodSpan,
    forecast: SpendForecast,
    series: DailySeries,
    days: LocalDays,
    nowMs: number,
    owners: Owners,
  ): Promise<ScopeProjection> {
    const [row] = await queryUsage(this.store, {
      ...usageFiltersOf(def),
      ...(bucket.endMs === undefined ? {} : { from: bucket.startMs }),
      to: nowMs,
    });
    const spent = row?.costUsd ?? 0;
    const last = forecast.days[forecast.days.length - 1];
    const levels = defs
      .flatMap((d) => (d.limit_usd === undefined ? [] : [{ level: d.level, limitUsd: d.limit_usd }]))
      .sort((a, b) => a.limitUsd - b.limitUsd);
    const horizonEndMs =
      bucket.endMs ?? zonedMidnight(days.todayYear, days.todayMonth, days.todayDay + horizon, this.timeZone);
    const owner = ownerOf(def, owners);
    return {
      scope: scopeLabelOf(def),
      scopeKey,
      kind: def.scope,
      id: def.id,
      ...(def.alias === undefined ? {} : { alias: def.alias }),
      ...(def.provider === undefined ? {} : { provider: def.provider }),
      ...owner,
      period,
      periodStart: bucket.endMs === undefined ? null : new Date(bucket.startMs).toISOString(),
      periodEnd: bucket.endMs === undefined ? null : new Date(bucket.endMs).toISOString(),
      horizonEnd: new Date(horizonEndMs).toISOString(),
      spentToDateUsd: spent,
      forecastPeriodEndUsd: spent + (last?.cumUsd ?? 0),
      low: spent + (last?.cumLow ?? 0),
      high: spent + (last?.cumHigh ?? 0),
      method: forecast.method,
      insufficientData: forecast.insufficientData,
      historyDays: series.history.length,
      backtestMape: forecast.backtestMape,
      days: forecast.days,
      breaches: projectBreaches(spent, forecast, levels),
    };
  }

  /** Full days from today on; with no complete day of history, today's rate so far (over at least an hour). */
  private forecast(series: DailySeries, days: LocalDays, horizon: number): SpendForecast {
    if (series.history.length > 0) return forecastDaily(series.history, horizon);
    const labels = Array.from({ length: horizon }, (_, i) =>
      ymd(Date.UTC(days.todayYear, days.todayMonth - 1, days.todayDay + i)),
    );
    const rate = series.today / Math.max(days.elapsedToday, 1 / 24);
    return runRateForecast([], labels, rate);
  }

  /** Daily spend over the window, by local day, from hourly buckets; leading days without spend dropped. */
  private async dailySpend(filters: UsageFilters, days: LocalDays, nowMs: number): Promise<DailySeries> {
    const starts = days.starts;
    const totals = new Array<number>(starts.length).fill(0);
    const rows = await queryUsage(this.store, { ...filters, from: starts[0], to: nowMs, groupBy: "hour" });
    let i = 0;
    for (const row of rows) {
      if (row.group === null) continue;
      const ms = Date.parse(row.group);
      // Rows come sorted by time: advance to the day this hour starts in.
      while (i + 1 < starts.length && ms >= (starts[i + 1] as number)) i++;
      totals[i] = (totals[i] ?? 0) + row.costUsd;
    }
    const today = totals.pop() ?? 0;
    const firstSpend = totals.findIndex((usd) => usd > 0);
    const history: DailyPoint[] =
      firstSpend < 0 ? [] : totals.slice(firstSpend).map((usd, j) => ({ day: days.labels[firstSpend + j] ?? "", usd }));
    return { history, today };
  }

  /** The window's local day starts, oldest first, today last, and how far into today `nowMs` is. */
  private localDays(nowMs: number): LocalDays {
    const today = periodBucket("daily", this.timeZone, nowMs);
    const [y, m, d] = today.label.split("-").map(Number) as [number, number, number];
    const starts: number[] = [];
    const labels: string[] = [];
    for (let back = this.historyDays; back >= 0; back--) {
      starts.push(zonedMidnight(y, m, d - back, this.timeZone));
      labels.push(ymd(Date.UTC(y, m - 1, d - back)));
    }
    const end = today.endMs ?? today.startMs + DAY_MS;
    return {
      starts,
      labels,
      todayStartMs: today.startMs,
      todayYear: y,
      todayMonth: m,
      todayDay: d,
      elapsedToday: Math.min(1, Math.max(0, (nowMs - today.startMs) / (end - today.startMs))),
    };
  }

  /** Team and org of the team- and key-scoped budgets, so scopes() can filter by either. */
  private async owners(defs: readonly BudgetDefinition[]): Promise<Owners> {
    const keyIds = [...new Set(defs.filter((d) => d.scope === "key").map((d) => d.id))];
    const teamIds = [...new Set(defs.filter((d) => d.scope === "team").map((d) => d.id))];
    const keys = new Map<string, { teamId: string; orgId: string }>();
    const teams = new Map<string, string>();
    if (keyIds.length > 0) {
      const rows = await this.store.db
        .selectFrom("keys")
        .select(["id", "team_id", "org_id"])
        .where("id", "in", keyIds)
        .execute();
      for (const r of rows) keys.set(r.id, { teamId: r.team_id, orgId: r.org_id });
    }
    if (teamIds.length > 0) {
      const rows = await this.store.db
        .selectFrom("teams")
        .select(["id", "org_id"])
        .where("id", "in", teamIds)
        .execute();
      for (const r of rows) teams.set(r.id, r.org_id);
    }
    return { keys, teams };
  }
}

/** One period of a scope: its budgets (one per level), current bucket and days left including today. */
interface PeriodSpan {
  period: BudgetPeriod;
  defs: BudgetDefinition[];
  bucket: PeriodBucket;
  horizon: number;
}

interface DailySeries {
  /** Complete local days before today. */
  history: DailyPoint[];
  /** Spend so far today. */
  today: number;
}

interface LocalDays {
  starts: number[];
  labels: string[];
  todayStartMs: number;
  todayYear: number;
  todayMonth: number;
  todayDay: number;
  /** Fraction of today gone (DST days are 23 or 25 hours). */
  elapsedToday: number;
}

interface Owners {
  keys: Map<string, { teamId: string; orgId: string }>;
  teams: Map<string, string>;
}

function ownerOf(def: BudgetDefinition, owners: Owners): { teamId?: string; orgId?: string } {
  if (def.scope === "org") return { orgId: def.id };
  if (def.scope === "team") {
    const orgId = owners.teams.get(def.id);
    return orgId === undefined ? { teamId: def.id } : { teamId: def.id, orgId };
  }
  return owners.keys.get(def.id) ?? {};
}

/**
 * Today is partly spent: what remains of it is its forecast times the part of the day left (spend assumed even
 * over the day). Running totals shift by the part already gone and keep their relative band.
 */
function remainderOfToday(forecast: SpendForecast, elapsed: number): SpendForecast {
  const first = forecast.days[0];
  if (!first || elapsed <= 0) return forecast;
  const gone = first.usd * elapsed;
  const days = forecast.days.map((d, i): ForecastDay => {
    const cum = d.cumUsd ?? 0;
    const shifted = Math.max(0, cum - gone);
    const scale = cum > 0 ? shifted / cum : 0;
    const day: ForecastDay = {
      ...d,
      cumUsd: shifted,
      cumLow: (d.cumLow ?? 0) * scale,
      cumHigh: (d.cumHigh ?? 0) * scale,
    };
    if (i === 0) {
      const left = 1 - elapsed;
      day.usd = d.usd * left;
      day.low = d.low * left;
      day.high = d.high * left;
    }
    return day;
  });
  return { ...forecast, days };
}

function ymd(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
