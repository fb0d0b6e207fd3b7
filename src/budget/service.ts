import type { BudgetCounters, Charge, ReserveResult, ScopeState } from "../state/counters.js";
import { microToUsd } from "../state/counters.js";
import type { BudgetDefinition, BudgetsConfig } from "./definition.js";
import { assertTimeZone, type BudgetPeriod, type PeriodBucket, periodBucket } from "./periods.js";
import { BudgetIndex, type BudgetSubject, type CompiledBudget } from "./scopes.js";

export { CountersUnavailableError } from "../state/counters.js";

export interface BudgetRequest extends BudgetSubject {
  /** Predicted maximum cost: prompt estimate + maximum completion, priced. */
  maxCostUsd: number;
  /** Prompt estimate + maximum completion tokens. */
  maxTokens: number;
}

export interface BudgetWarning {
  scope: string;
  period: BudgetPeriod;
  level: "soft" | "hard";
  /** Settled spend over the limit (the larger of USD and tokens); may exceed 1 for a soft budget. */
  usedFraction: number;
  /** The budget's warn_at, for alerts. */
  warnAt: number;
  spentUsd: number;
  limitUsd?: number;
}

export interface BudgetBreach {
  /** Human label, e.g. "team blue, alias chat". */
  scope: string;
  period: BudgetPeriod;
  /** When the period (hard) or the brake (emergency) ends; null for a "total" budget. */
  resetAt: Date | null;
  level: "hard" | "emergency";
  limitUsd?: number;
  spentUsd?: number;
  /** Held by in-flight requests when the check ran. */
  reservedUsd?: number;
  requestedUsd?: number;
  limitTokens?: number;
  spentTokens?: number;
}

/** What settle() and release() need; carry it on the request context. */
export interface BudgetReservation {
  /** Empty when no budget applied (settle and release then do nothing). */
  id: string;
  charges: Charge[];
  /** Scopes with an emergency brake: their velocity grows at settle. */
  brakes: CompiledBudget[];
  labels: string[];
}

export type BudgetDecision =
  | {
      ok: true;
      reservation: BudgetReservation;
      warnings: BudgetWarning[];
      /** Serve with this cheaper alias (a degrade threshold was passed). */
      degradeTo?: string;
      /** A per-model guardrail with drop_model_when_over is spent: route the alias's other deployments. */
      dropModel?: boolean;
      droppedScopes?: string[];
      /** Provider types whose per-provider guardrail is spent (drop_model_when_over): routing leaves them out. */
      droppedProviders?: string[];
      /** Per-provider latency guardrails (latency_target_ms) that apply to this request. */
      latencyTargets?: [provider: string, ms: number][];
    }
  | { ok: false; breach: BudgetBreach };

/** Structured-log and metrics hooks; the service imports neither pino nor prom-client. */
export interface BudgetObserver {
  reserved?(event: {
    reservationId: string;
    scopes: string[];
    maxCostUsd: number;
    warnings: BudgetWarning[];
    degradeTo?: string;
  }): void;
  breached?(scope: string, level: "hard" | "emergency", breach: BudgetBreach): void;
  settled?(event: { reservationId: string; scopes: string[]; actualUsd: number; actualTokens: number }): void;
}

export interface BudgetServiceOptions {
  counters: BudgetCounters;
  config: BudgetsConfig;
  /** Initial definitions; defaults to config.definitions. Replace later with setDefinitions(). */
  definitions?: readonly BudgetDefinition[];
  now?: () => number;
  observer?: BudgetObserver;
}

interface ChargeGroup {
  charge: Charge;
  budgets: CompiledBudget[];
  bucket: PeriodBucket;
}

const EMPTY: BudgetReservation = { id: "", charges: [], brakes: [], labels: [] };

/**
 * Budgets enforced by reservation: reserve the predicted maximum against every applicable scope at once
 * (all or nothing), settle to the actual cost afterwards. Errors from the counters propagate: a
 * CountersUnavailableError from reserve() means Redis is down, and the stage applies `redisDown`.
 */
export class BudgetService {
  readonly config: BudgetsConfig;
  private readonly counters: BudgetCounters;
  private readonly now: () => number;
  private readonly observer: BudgetObserver;
  private readonly ttlMs: number;
  private index: BudgetIndex;
  private readonly buckets = new Map<BudgetPeriod, PeriodBucket>();

  constructor(options: BudgetServiceOptions) {
    assertTimeZone(options.config.timezone);
    this.config = options.config;
    this.counters = options.counters;
    this.now = options.now ?? Date.now;
    this.observer = options.observer ?? {};
    this.ttlMs = options.config.reservation_ttl_s * 1000;
    this.index = new BudgetIndex(options.definitions ?? options.config.definitions);
  }

  /** What the stage does when reserve() throws CountersUnavailableError. */
  get redisDown(): BudgetsConfig["redis_down"] {
    return this.config.redis_down;
  }

  /** Replace the definitions (admin API, config reload); reservations already made settle unchanged. */
  /** Whether any budget is defined (the stage skips the reserve round trip when none is). */
  get active(): boolean {
    return this.index.all.length > 0;
  }

  setDefinitions(definitions: readonly BudgetDefinition[]): void {
    this.index = new BudgetIndex(definitions);
  }

  async reserve(req: BudgetRequest): Promise<BudgetDecision> {
    const budgets = this.index.match(req);
    if (budgets.length === 0) return { ok: true, reservation: EMPTY, warnings: [] };
    const now = this.now();
    const groups = this.group(budgets, req, now);
    const brakes = budgets.filter((b) => b.def.emergency !== undefined);
    const brakeKeys = brakes.map((b) => b.scopeKey);
    const dropped: CompiledBudget[] = [];
    for (;;) {
      const result = await this.counters.reserve(
        groups.map((g) => g.charge),
        this.ttlMs,
        { brakes: brakeKeys },
      );
      if (result.ok) return this.accept(result.reservationId, result.states, groups, brakes, req, dropped, budgets);
      if (result.reason === "brake") {
        const budget = brakes[result.index] as CompiledBudget;
        return this.refuse(budget.label, {
          scope: budget.label,
          period: budget.def.period,
          resetAt: new Date(result.untilMs),
          level: "emergency",
        });
      }
      const group = groups[result.index] as ChargeGroup;
      const hard = group.budgets.filter((b) => b.def.level === "hard");
      // A spent per-model guardrail with drop_model_when_over steps aside: the router tries other deployments.
      if (hard.length > 0 && hard.every((b) => b.def.drop_model_when_over)) {
        groups.splice(result.index, 1);
        dropped.push(...hard);
        continue;
      }
      return this.refuse((hard[0] ?? (group.budgets[0] as CompiledBudget)).label, breachOf(result, group, hard));
    }
  }

  /** Replaces the hold by the actual cost; safe to call twice. A stream settles at its end, an abort at what was generated. */
  async settle(reservation: BudgetReservation, actualUsd: number, actualTokens: number): Promise<void> {
    if (reservation.id === "") return;
    const actual = reservation.charges.map((c) => ({ ...c, usd: actualUsd, tokens: actualTokens }));
    // A repeated settle changes nothing, so it neither reports nor counts toward velocity twice.
    if (!(await this.counters.settle(reservation.id, actual))) return;
    this.observer.settled?.({ reservationId: reservation.id, scopes: reservation.labels, actualUsd, actualTokens });
    if (reservation.brakes.length > 0 && actualUsd > 0) await this.checkVelocity(reservation.brakes, actualUsd);
  }

  /** Drops the hold without spend: the request never reached upstream (or was refused later in the pipeline). */
  async release(reservation: BudgetReservation): Promise<void> {
    if (reservation.id === "") return;
    await this.counters.release(reservation.id);
  }

  /** Whether a budget of `owner` ("team:blue") asks for its brake on a critical anomaly. */
  wantsAnomalyBrake(owner: string): boolean {
    return this.index.all.some((b) => b.def.emergency?.on_critical_anomaly && ownerOf(b) === owner);
  }

  /**
   * The anomaly detector's critical level: trips the brake of every definition owned by `owner` whose emergency
   * rule asks for it (`anyRule`: every definition of the owner with an emergency rule). Returns the scopes braked.
   */
  async brakeOnAnomaly(owner: string, anyRule = false): Promise<string[]> {
    const braked: string[] = [];
    for (const b of this.index.all) {
      const rule = b.def.emergency;
      if (rule === undefined || !(anyRule || rule.on_critical_anomaly) || ownerOf(b) !== owner) continue;
      await this.tripBrake(b, rule.cooldown_s);
      braked.push(b.label);
    }
    return braked;
  }

  private async tripBrake(b: CompiledBudget, cooldownS: number): Promise<void> {
    const until = await this.counters.tripBrake(b.scopeKey, cooldownS * 1000);
    this.observer.breached?.(b.label, "emergency", {
      scope: b.label,
      period: b.def.period,
      resetAt: new Date(until),
      level: "emergency",
    });
  }

  /** Lifts an emergency brake before its cool-down; `scope` is a scope key ("team:blue") or label ("team blue"). */
  async resetBrake(scope: string): Promise<void> {
    const byLabel = this.index.all.find((b) => b.label === scope);
    await this.counters.clearBrake(byLabel?.scopeKey ?? scope);
  }

  /** Active brakes of the current definitions, for the admin API. */
  async brakes(): Promise<{ scope: string; until: Date }[]> {
    const withBrake = this.index.all.filter((b) => b.def.emergency !== undefined);
    const until = await this.counters.readBrakes(withBrake.map((b) => b.scopeKey));
    const out: { scope: string; until: Date }[] = [];
    withBrake.forEach((b, i) => {
      const ms = until[i] ?? 0;
      if (ms > 0) out.push({ scope: b.label, until: new Date(ms) });
    });
    return out;
  }

  /** Settled spend over limit per limited definition in its current period (tollgate_budget_utilization_ratio). */
  async utilization(): Promise<{ scope: string; period: BudgetPeriod; fraction: number }[]> {
    const now = this.now();
    const limited = this.index.all.filter((b) => b.def.limit_usd !== undefined || b.def.limit_tokens !== undefined);
    const states = await this.counters.read(limited.map((b) => this.bucketKey(b, now)));
    return limited.map((b, i) => ({
      scope: b.label,
      period: b.def.period,
      fraction: usedFraction(b.def, states[i] as ScopeState),
    }));
  }

  private accept(
    id: string,
    states: ScopeState[],
    groups: ChargeGroup[],
    brakes: CompiledBudget[],
    req: BudgetRequest,
    dropped: CompiledBudget[],
    matched: CompiledBudget[],
  ): BudgetDecision {
    const warnings: BudgetWarning[] = [];
    let degradeTo: string | undefined;
    let degradeFraction = -1;
    const labels: string[] = [];
    groups.forEach((g, i) => {
      const state = states[i] as ScopeState;
      for (const b of g.budgets) {
        labels.push(b.label);
        const fraction = usedFraction(b.def, state);
        if (fraction >= b.def.warn_at) {
          warnings.push({
            scope: b.label,
            period: b.def.period,
            level: b.def.level,
            usedFraction: fraction,
            warnAt: b.def.warn_at,
            spentUsd: microToUsd(state.spentMicroUsd),
            ...(b.def.limit_usd !== undefined ? { limitUsd: b.def.limit_usd } : {}),
          });
        }
        if (b.def.degrade && fraction >= b.def.degrade.at && fraction > degradeFraction) {
          degradeTo = b.def.degrade.to;
          degradeFraction = fraction;
        }
      }
    });
    const reservation: BudgetReservation = { id, charges: groups.map((g) => g.charge), brakes, labels };
    this.observer.reserved?.({ reservationId: id, scopes: labels, maxCostUsd: req.maxCostUsd, warnings, degradeTo });
    const decision: BudgetDecision = { ok: true, reservation, warnings };
    if (degradeTo !== undefined && degradeTo !== req.alias) decision.degradeTo = degradeTo;
    if (dropped.length > 0) {
      decision.dropModel = true;
      decision.droppedScopes = dropped.map((b) => b.label);
      const providers = dropped.flatMap((b) => (b.def.provider ? [b.def.provider] : []));
      if (providers.length > 0) decision.droppedProviders = providers;
    }
    const targets: [string, number][] = [];
    for (const b of matched) {
      if (b.def.latency_target_ms !== undefined && b.def.provider !== undefined) {
        targets.push([b.def.provider, b.def.latency_target_ms]);
      }
    }
    if (targets.length > 0) decision.latencyTargets = targets;
    return decision;
  }

  private refuse(scope: string, breach: BudgetBreach): BudgetDecision {
    this.observer.breached?.(scope, breach.level, breach);
    return { ok: false, breach };
  }

  /** One charge per bucket key: budgets sharing a scope and period share a counter; the tightest hard limit wins. */
  private group(budgets: CompiledBudget[], req: BudgetRequest, now: number): ChargeGroup[] {
    const groups = new Map<string, ChargeGroup>();
    for (const b of budgets) {
      if (b.def.limit_usd === undefined && b.def.limit_tokens === undefined) continue;
      const bucket = this.bucket(b.def.period, now);
      const key = `${b.scopeKey}:${b.def.period}:${bucket.label}`;
      let g = groups.get(key);
      if (!g) {
        const charge: Charge = { key, usd: req.maxCostUsd, tokens: req.maxTokens, hard: false };
        if (bucket.endMs !== undefined) charge.periodEndMs = bucket.endMs;
        g = { charge, budgets: [], bucket };
        groups.set(key, g);
      }
      g.budgets.push(b);
      if (b.def.level !== "hard") continue;
      g.charge.hard = true;
      if (b.def.limit_usd !== undefined) g.charge.limitUsd = Math.min(g.charge.limitUsd ?? Infinity, b.def.limit_usd);
      if (b.def.limit_tokens !== undefined) {
        g.charge.limitTokens = Math.min(g.charge.limitTokens ?? Infinity, b.def.limit_tokens);
      }
    }
    return [...groups.values()];
  }

  private bucketKey(b: CompiledBudget, now: number): string {
    return `${b.scopeKey}:${b.def.period}:${this.bucket(b.def.period, now).label}`;
  }

  /** Buckets are cached until they end, so the hot path formats no dates. */
  private bucket(period: BudgetPeriod, now: number): PeriodBucket {
    const cached = this.buckets.get(period);
    if (cached && now >= cached.startMs && (cached.endMs === undefined || now < cached.endMs)) return cached;
    const fresh = periodBucket(period, this.config.timezone, now);
    this.buckets.set(period, fresh);
    return fresh;
  }

  /** Emergency brake: trips when the last minute's spend is over usd_per_minute or a multiple of the trailing hour's mean. */
  private async checkVelocity(brakes: CompiledBudget[], actualUsd: number): Promise<void> {
    const velocity = await this.counters.incrVelocity(
      brakes.map((b) => b.scopeKey),
      actualUsd,
    );
    for (let i = 0; i < brakes.length; i++) {
      const b = brakes[i] as CompiledBudget;
      const v = velocity[i];
      const rule = b.def.emergency;
      if (!v || !rule) continue;
      // The mean runs over the trailing hour, or since the scope's first spend in it, so a young scope
      // spending steadily is not mistaken for a spike.
      const hourMean = v.trailingMinutes > 0 ? v.trailingHourUsd / v.trailingMinutes : 0;
      const overRate = rule.usd_per_minute !== undefined && v.lastMinuteUsd > rule.usd_per_minute;
      // A scope with no spend in the trailing hour has no baseline to be a multiple of; usd_per_minute covers it.
      const overMultiple =
        rule.multiple_of_trailing_hour !== undefined &&
        hourMean > 0 &&
        v.lastMinuteUsd > rule.multiple_of_trailing_hour * hourMean;
      if (!overRate && !overMultiple) continue;
      await this.tripBrake(b, rule.cooldown_s);
    }
  }
}

const ownerOf = (b: CompiledBudget) => `${b.def.scope}:${b.def.id}`;

function usedFraction(def: BudgetDefinition, state: ScopeState): number {
  let fraction = 0;
  if (def.limit_usd !== undefined) fraction = microToUsd(state.spentMicroUsd) / def.limit_usd;
  if (def.limit_tokens !== undefined) fraction = Math.max(fraction, state.spentTokens / def.limit_tokens);
  return fraction;
}

function breachOf(
  result: Extract<ReserveResult, { reason: "limit" }>,
  group: ChargeGroup,
  hard: CompiledBudget[],
): BudgetBreach {
  const budget = hard[0] ?? (group.budgets[0] as CompiledBudget);
  const breach: BudgetBreach = {
    scope: budget.label,
    period: budget.def.period,
    resetAt: group.bucket.endMs === undefined ? null : new Date(group.bucket.endMs),
    level: "hard",
    spentUsd: microToUsd(result.state.spentMicroUsd),
    reservedUsd: microToUsd(result.state.reservedMicroUsd),
    requestedUsd: microToUsd(result.requestedMicroUsd),
    spentTokens: result.state.spentTokens,
  };
  if (result.limitMicroUsd !== undefined) breach.limitUsd = microToUsd(result.limitMicroUsd);
  if (result.limitTokens !== undefined) breach.limitTokens = result.limitTokens;
  return breach;
}

/** The refusal message the stage puts in its 429: scope, period and reset time. */
export function breachMessage(breach: BudgetBreach): string {
  const what = breach.level === "emergency" ? "Emergency spend brake engaged" : `${breach.period} budget exceeded`;
  const reset = breach.resetAt ? `; resets at ${breach.resetAt.toISOString()}` : "; it does not reset";
  return `${what} for ${breach.scope}${reset}`;
}
