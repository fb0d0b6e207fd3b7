import type { BudgetDefinition } from "../budget/definition.js";
import { periodBucket } from "../budget/periods.js";
import { scopeLabelOf, usageFiltersOf } from "../budget/scopes.js";
import type { Store } from "../store/index.js";
import { queryUsage } from "../usage/index.js";

/**
 * What the forecast service answers per budget scope and period (src/forecast/service.ts, ScopeProjection).
 * Structural, so the dashboard neither imports nor requires it: without one, views say "no forecast".
 */
export interface ForecastScope {
  /** The scope's label, e.g. "team blue, alias chat". */
  scope: string;
  kind: string;
  id: string;
  alias?: string;
  provider?: string;
  period: string;
  periodStart: string | null;
  periodEnd: string | null;
  spentToDateUsd: number;
  forecastPeriodEndUsd: number;
  low: number;
  high: number;
  method: string;
  insufficientData: boolean;
  /** Today through the period's last day; cum* sum the forecast from the first of them. */
  days?: readonly { day: string; cumUsd?: number; cumLow?: number; cumHigh?: number }[];
  breaches: readonly { level: string; limitUsd: number; date: string | null }[];
}

export interface ForecastSource {
  scopes(nowMs: number, filter?: { teamId?: string }): Promise<readonly ForecastScope[]>;
}

/** Who the answer is for: a team, or everything (the master key, or a gateway without auth). */
export interface Viewer {
  teamId: string | undefined;
}

export interface BudgetSources {
  store: Store;
  /** Declared plus stored definitions, as the budget service enforces them. */
  definitions(): Promise<readonly BudgetDefinition[]>;
  /** Emergency brakes in force, by scope label. */
  brakes?(): Promise<readonly { scope: string; until: Date }[]>;
  /** Key ids of a team, so a team sees its keys' budgets. */
  teamKeyIds?(teamId: string): Promise<readonly string[]>;
  forecasts?: ForecastSource | undefined;
  timezone: string;
}

export type BudgetState = "ok" | "warning" | "over_soft" | "blocked" | "emergency";

export interface BudgetRow {
  scope_label: string;
  scope: BudgetDefinition["scope"];
  id: string;
  alias: string | null;
  provider: string | null;
  period: BudgetDefinition["period"];
  level: BudgetDefinition["level"];
  limit_usd: number | null;
  limit_tokens: number | null;
  warn_at: number;
  spent_usd: number;
  spent_tokens: number;
  /** Spent over limit (the larger of USD and tokens). */
  utilization: number;
  state: BudgetState;
  brake_until: string | null;
  period_start: string | null;
  period_end: string | null;
  forecast: {
    period_end_usd: number;
    low: number;
    high: number;
    method: string;
    insufficient_data: boolean;
  } | null;
  /** The first forecast breach of this budget's own limit. */
  projected_breach: { level: string; limit_usd: number; date: string | null } | null;
  warnings: string[];
}

/** The definitions a viewer may see: a team sees its own team's and its keys' budgets, never an org's total. */
export async function visibleDefinitions(src: BudgetSources, viewer: Viewer): Promise<BudgetDefinition[]> {
  const all = await src.definitions();
  const teamId = viewer.teamId;
  if (teamId === undefined) return [...all];
  const keyIds = new Set((await src.teamKeyIds?.(teamId)) ?? []);
  return all.filter((d) => (d.scope === "team" && d.id === teamId) || (d.scope === "key" && keyIds.has(d.id)));
}

/** Each visible budget with its spend this period (from the ledger), state, forecast and warnings. */
export async function budgetRows(src: BudgetSources, viewer: Viewer, nowMs: number): Promise<BudgetRow[]> {
  const defs = await visibleDefinitions(src, viewer);
  const [brakes, forecasts] = await Promise.all([
    src.brakes?.() ?? Promise.resolve([]),
    forecastsFor(src.forecasts, viewer, nowMs),
  ]);
  const brakeByScope = new Map(brakes.map((b) => [b.scope, b.until]));
  return Promise.all(
    defs.map(async (def) => {
      const bucket = periodBucket(def.period, src.timezone, nowMs);
      const [spent] = await queryUsage(src.store, { ...usageFiltersOf(def), from: bucket.startMs });
      const spentUsd = spent?.costUsd ?? 0;
      const spentTokens = (spent?.promptTokens ?? 0) + (spent?.completionTokens ?? 0);
      let utilization = 0;
      if (def.limit_usd !== undefined) utilization = spentUsd / def.limit_usd;
      if (def.limit_tokens !== undefined) utilization = Math.max(utilization, spentTokens / def.limit_tokens);
      const label = scopeLabelOf(def);
      const brake = brakeByScope.get(label);
      const brakeUntil = brake && brake.getTime() > nowMs ? brake.toISOString() : null;
      const forecast = forecasts.find((f) => forecastMatches(f, def));
      const breach =
        forecast?.breaches.find((b) => b.limitUsd === def.limit_usd) ??
        forecast?.breaches.find((b) => b.level === def.level) ??
        null;
      const row: BudgetRow = {
        scope_label: label,
        scope: def.scope,
        id: def.id,
        alias: def.alias ?? null,
        provider: def.provider ?? null,
        period: def.period,
        level: def.level,
        limit_usd: def.limit_usd ?? null,
        limit_tokens: def.limit_tokens ?? null,
        warn_at: def.warn_at,
        spent_usd: spentUsd,
        spent_tokens: spentTokens,
        utilization,
        state: stateOf(def, utilization, brakeUntil),
        brake_until: brakeUntil,
        period_start: def.period === "total" ? null : new Date(bucket.startMs).toISOString(),
        period_end: bucket.endMs === undefined ? null : new Date(bucket.endMs).toISOString(),
        forecast: forecast
          ? {
              period_end_usd: forecast.forecastPeriodEndUsd,
              low: forecast.low,
              high: forecast.high,
              method: forecast.method,
              insufficient_data: forecast.insufficientData,
            }
          : null,
        projected_breach: breach ? { level: breach.level, limit_usd: breach.limitUsd, date: breach.date } : null,
        warnings: [],
      };
      row.warnings = warningsOf(row, def);
      return row;
    }),
  );
}

/** A forecast service failure costs the dashboard its forecasts, not the page. */
export async function forecastsFor(
  source: ForecastSource | undefined,
  viewer: Viewer,
  nowMs: number,
): Promise<readonly ForecastScope[]> {
  if (source === undefined) return [];
  try {
    const all = await source.scopes(nowMs, viewer.teamId === undefined ? undefined : { teamId: viewer.teamId });
    const teamId = viewer.teamId;
    // Defence in depth: the service was asked for the team's scopes only; an org total would show other teams' spend.
    return teamId === undefined ? all : all.filter((f) => f.kind !== "org" && (f.kind !== "team" || f.id === teamId));
  } catch {
    return [];
  }
}

export function forecastMatches(f: ForecastScope, def: BudgetDefinition): boolean {
  return (
    f.kind === def.scope &&
    f.id === def.id &&
    f.alias === def.alias &&
    f.provider === def.provider &&
    f.period === def.period
  );
}

function stateOf(def: BudgetDefinition, utilization: number, brakeUntil: string | null): BudgetState {
  if (brakeUntil !== null) return "emergency";
  if (utilization >= 1) return def.level === "hard" ? "blocked" : "over_soft";
  if (utilization >= def.warn_at) return "warning";
  return "ok";
}

function warningsOf(row: BudgetRow, def: BudgetDefinition): string[] {
  const out: string[] = [];
  const pct = `${Math.round(row.utilization * 100)}%`;
  if (row.state === "emergency") out.push(`Emergency brake engaged until ${row.brake_until}.`);
  if (row.state === "blocked") out.push(`Hard limit reached (${pct}): requests in this scope are refused.`);
  else if (row.state === "over_soft") out.push(`Over the soft limit (${pct}): requests are served with a warning.`);
  else if (row.state === "warning") out.push(`${pct} used, past the warning threshold of ${def.warn_at * 100}%.`);
  if (row.projected_breach?.date && row.utilization < 1) {
    out.push(`Projected to reach the ${row.projected_breach.level} limit on ${row.projected_breach.date}.`);
  }
  return out;
}
