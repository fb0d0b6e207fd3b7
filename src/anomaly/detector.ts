import { offsetAt } from "../budget/periods.js";
import { type Baseline, median, medianAndMad, SeasonalProfile, type WindowStats } from "./baseline.js";
import { type AnomalyConfig, type AnomalyConfigInput, AnomalyConfigSchema } from "./config.js";
import { type AnomalyMetric, type BaselineSource, judge, lenient, type Reading, winsorise, zOf } from "./judge.js";
import { DAY_MINUTES, MINUTE_MS, MinuteRing, slotOf, WEEK_MINUTES } from "./series.js";

export type AnomalyLevel = "warning" | "critical";

/** One per change of an anomaly: opened (at warning, or straight at critical), escalated to critical, cleared. */
export interface AnomalyEvent {
  kind: AnomalyLevel | "cleared";
  /** `${scope}|${startedAt}`: the same on every event of one anomaly, so receivers can dedupe. */
  id: string;
  scope: string;
  /** The anomaly's level; on a cleared event, the highest it reached. */
  level: AnomalyLevel;
  /** Epoch ms of the evaluation that opened the anomaly, and of this one. */
  startedAt: number;
  at: number;
  /** What rose: the request rate (a loop, a flood) or the cost per request (a pricier model, longer prompts). */
  metric: AnomalyMetric;
  /** Modified z-score of that metric against its baseline. */
  zScore: number;
  /** Spend multiple explained by the significant metrics (requests x cost per request). */
  multiple: number;
  spendUsdPerHour: number;
  baselineUsdPerHour: number;
  excessUsdPerHour: number;
  requestsPerMinute: number;
  baselineRequestsPerMinute: number;
  /** Geometric mean over priced requests; undefined when too few. */
  costPerRequestUsd: number | undefined;
  baselineCostPerRequestUsd: number | undefined;
  /** week: same slot of past weeks; day: same slot of past weekdays or weekend days; recent: the last hour. */
  baseline: BaselineSource;
  /** Critical, and the scope asks for its emergency brake on critical anomalies. */
  brake: boolean;
}

export interface ScopeAnomalyState {
  scope: string;
  level: AnomalyLevel | "none";
  /** The last evaluation found the window anomalous (an open anomaly may be waiting out clear_minutes). */
  anomalous: boolean;
  startedAt?: number;
  /** The last evaluation; the figures below are from it (baseline none: too little history to judge yet). */
  evaluatedAt?: number;
  baseline: BaselineSource | "none";
  spendUsdPerHour: number;
  baselineUsdPerHour: number;
  requestsPerMinute: number;
  baselineRequestsPerMinute: number;
  zSpend: number;
  zRequests: number;
  zCostPerRequest: number;
}

export interface AnomalyDetectorOptions {
  /** The `anomaly` config section (defaults filled in here). */
  config?: AnomalyConfigInput;
  /** Whether a critical anomaly on this scope asks for the emergency brake (default: config.brake_on_critical). */
  brakeOnCritical?: (scope: string) => boolean;
}

interface OpenAnomaly {
  id: string;
  startedAt: number;
  firstMinute: number;
  lastAnomalousMinute: number;
  level: AnomalyLevel;
  last: Reading;
}

class ScopeState {
  evaluated = Number.NEGATIVE_INFINITY;
  nextSlotStart: number | undefined;
  last: Reading | undefined;
  lastAt: number | undefined;
  open: OpenAnomaly | undefined;

  constructor(
    readonly ring: MinuteRing,
    readonly first: number,
    readonly week: SeasonalProfile,
    readonly day: SeasonalProfile,
  ) {}
}

/**
 * Spend anomalies per scope, pure and clock-injected: `record` what was spent, call `evaluate(now)` about once a
 * minute and act on the events it returns. No timers, no I/O; memory is a ring of recent minutes and two seasonal
 * profiles per scope (about 25 KB), for at most `max_scopes` scopes.
 *
 * Each minute, the last `window_minutes` whole minutes (request rate, cost per request, spend) are judged (see
 * `judge`) against the median and MAD of the same window statistics in the same slot (15 minutes) of past weeks (EWMA
 * per slot), else of past weekdays or weekend days, else of the last `recent_minutes`. Every slot within
 * `schedule_jitter_minutes` must find the window anomalous, so a nightly job that starts late is not a spike. Slots
 * learn windows winsorised at that boundary: a spike teaches little, a lasting change is learned within weeks.
 */
export class AnomalyDetector {
  readonly config: AnomalyConfig;
  private readonly brakeOnCritical: (scope: string) => boolean;
  private readonly scopes = new Map<string, ScopeState>();
  private readonly ringSize: number;
  /** The IANA zone the slots follow; undefined for UTC (no offset to look up). */
  private readonly zone: string | undefined;
  private offset = 0;
  private offsetHour = Number.NaN;
  // Scratch for slot statistics (one detector, one thread).
  private readonly samples: [Float64Array, Float64Array, Float64Array];
  private readonly deviations: Float64Array;
  private readonly costDeviations: Float64Array;

  constructor(options: AnomalyDetectorOptions = {}) {
    const c = AnomalyConfigSchema.parse(options.config ?? {});
    this.config = c;
    this.brakeOnCritical = options.brakeOnCritical ?? (() => c.brake_on_critical);
    this.ringSize = Math.max(c.recent_minutes, c.slot_minutes) + 2 * c.window_minutes + 2;
    this.zone = c.timezone === "UTC" ? undefined : c.timezone;
    const n = Math.max(c.recent_minutes, c.slot_minutes);
    this.samples = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
    this.deviations = new Float64Array(n);
    this.costDeviations = new Float64Array(n);
  }

  get scopeCount(): number {
    return this.scopes.size;
  }

  /** Adds spend (USD) and requests at `tsMs`; anything older than the ring (about an hour) is ignored. */
  record(scope: string, tsMs: number, costUsd: number, requests = 1): void {
    if (!this.config.enabled) return;
    const minute = Math.floor(tsMs / MINUTE_MS);
    let s = this.scopes.get(scope);
    if (s === undefined) s = this.admit(scope, minute);
    else if (minute > s.ring.newest) {
      // Least recently active first in the map; touched at most once a minute.
      this.scopes.delete(scope);
      this.scopes.set(scope, s);
    }
    s.ring.add(minute, costUsd, requests);
  }

  /** Judges every scope on the last whole minute before `nowMs`, once per minute (extra calls return nothing). */
  evaluate(nowMs: number): AnomalyEvent[] {
    const events: AnomalyEvent[] = [];
    if (!this.config.enabled) return events;
    this.refreshOffset(nowMs);
    const t = Math.floor(nowMs / MINUTE_MS) - 1;
    for (const [scope, s] of this.scopes) {
      if (t <= s.evaluated) continue;
      s.evaluated = t;
      this.learnClosedSlots(s, t);
      const reading = this.read(s, t);
      s.last = reading;
      s.lastAt = nowMs;
      this.step(scope, s, reading, t, nowMs, events);
    }
    return events;
  }

  /** One scope's state, or every scope's. */
  state(scope?: string): ScopeAnomalyState[] {
    if (scope !== undefined) {
      const s = this.scopes.get(scope);
      return s === undefined ? [] : [view(scope, s)];
    }
    return Array.from(this.scopes, ([key, s]) => view(key, s));
  }

  private admit(scope: string, minute: number): ScopeState {
    const c = this.config;
    if (this.scopes.size >= c.max_scopes) {
      const oldest = this.scopes.keys().next();
      if (!oldest.done) this.scopes.delete(oldest.value);
    }
    const s = new ScopeState(
      new MinuteRing(this.ringSize, minute),
      minute,
      new SeasonalProfile(WEEK_MINUTES / c.slot_minutes, c.week_alpha),
      new SeasonalProfile((2 * DAY_MINUTES) / c.slot_minutes, c.day_alpha),
    );
    this.scopes.set(scope, s);
    return s;
  }

  private step(scope: string, s: ScopeState, r: Reading | undefined, t: number, nowMs: number, out: AnomalyEvent[]) {
    const open = s.open;
    if (r?.anomalous) {
      if (open === undefined) {
        const level: AnomalyLevel = this.isCritical(r, 1) ? "critical" : "warning";
        const opened: OpenAnomaly = {
          id: `${scope}|${nowMs}`,
          startedAt: nowMs,
          firstMinute: t,
          lastAnomalousMinute: t,
          level,
          last: r,
        };
        s.open = opened;
        out.push(this.event(level, scope, opened, r, nowMs));
        return;
      }
      open.lastAnomalousMinute = t;
      open.last = r;
      if (open.level === "warning" && this.isCritical(r, t - open.firstMinute + 1)) {
        open.level = "critical";
        out.push(this.event("critical", scope, open, r, nowMs));
      }
      return;
    }
    if (open !== undefined && t - open.lastAnomalousMinute >= this.config.clear_minutes) {
      s.open = undefined;
      out.push(this.event("cleared", scope, open, r ?? open.last, nowMs));
    }
  }

  private isCritical(r: Reading, minutes: number): boolean {
    const c = this.config;
    return (
      zOf(r) >= c.critical_z || r.excessUsdPerHour >= c.critical_excess_usd_per_hour || minutes >= c.sustain_minutes
    );
  }

  private event(kind: AnomalyEvent["kind"], scope: string, open: OpenAnomaly, r: Reading, nowMs: number) {
    return {
      kind,
      id: open.id,
      scope,
      level: open.level,
      startedAt: open.startedAt,
      at: nowMs,
      metric: r.metric,
      zScore: zOf(r),
      multiple: r.multiple,
      spendUsdPerHour: r.now.spend * 60,
      baselineUsdPerHour: r.base.spend * 60,
      excessUsdPerHour: r.excessUsdPerHour,
      requestsPerMinute: r.now.requests,
      baselineRequestsPerMinute: r.base.requests,
      costPerRequestUsd: usd(r.now.logUnitCost),
      baselineCostPerRequestUsd: usd(r.base.logUnitCost),
      baseline: r.source,
      brake: kind === "critical" && this.brakeOnCritical(scope),
    } satisfies AnomalyEvent;
  }

  /** The window against the most specific baseline with enough history. */
  private read(s: ScopeState, t: number): Reading | undefined {
    const c = this.config;
    const now = s.ring.window(t, c.window_minutes);
    return (
      this.readSeasonal(s.week, "week", c.min_weeks, t, now, 0) ??
      this.readSeasonal(s.day, "day", c.min_days, t, now, 0) ??
      // Weekends learn slowly (two days a week): borrow the weekdays meanwhile, the lenient side for a quiet Sunday.
      this.readSeasonal(s.day, "day", c.min_days, t, now, s.day.slots / 2) ??
      this.readRecent(s, t, now)
    );
  }

  /** The most lenient reading among the learned slots within the jitter of `t`. */
  private readSeasonal(
    profile: SeasonalProfile,
    kind: "week" | "day",
    minSamples: number,
    t: number,
    now: WindowStats,
    shift: number,
  ): Reading | undefined {
    const { schedule_jitter_minutes: jitter, slot_minutes: width } = this.config;
    const slotAt = (m: number) => (slotOf(kind, m + this.offset, width) + shift) % profile.slots;
    if (profile.samplesAt(slotAt(t)) < minSamples) return undefined;
    let best: Reading | undefined;
    let previous = -1;
    // Steps of one slot width visit every slot that [t - jitter, t + jitter] touches.
    for (let m = t - jitter; ; m += width) {
      const at = Math.min(m, t + jitter);
      const slot = slotAt(at);
      if (slot !== previous && profile.samplesAt(slot) >= minSamples) {
        best = lenient(best, judge(now, profile.read(slot), kind, this.config));
      }
      previous = slot;
      if (at === t + jitter) return best;
    }
  }

  private readRecent(s: ScopeState, t: number, now: WindowStats): Reading | undefined {
    const { window_minutes: w, recent_minutes: n } = this.config;
    // Windows that end before the current one starts, so a spike is not its own baseline.
    if (t - w - n + 1 - (w - 1) < s.first) return undefined;
    for (let j = 0; j < n; j++) this.putSample(j, s.ring.window(t - w - j, w), undefined);
    return judge(now, this.sampleBaseline(n, s.ring, t - w - n + 1), "recent", this.config);
  }

  /** Feeds every slot that has closed by minute `t` into both profiles. */
  private learnClosedSlots(s: ScopeState, t: number): void {
    const { slot_minutes: width, window_minutes: w } = this.config;
    // The first slot whose windows lie wholly after the scope appeared, and still in the ring.
    const earliest = Math.max(s.first + w - 1, Math.max(s.ring.newest, t) - this.ringSize + w);
    let a = Math.max(s.nextSlotStart ?? earliest, earliest);
    a = Math.ceil((a + this.offset) / width) * width - this.offset;
    for (; a + width - 1 <= t; a += width) {
      this.learnSlot(s.week, slotOf("week", a + this.offset, width), this.config.min_weeks, s.ring, a);
      this.learnSlot(s.day, slotOf("day", a + this.offset, width), this.config.min_days, s.ring, a);
    }
    s.nextSlotStart = a;
  }

  private learnSlot(profile: SeasonalProfile, slot: number, minSamples: number, ring: MinuteRing, a: number): void {
    const { slot_minutes: width, window_minutes: w } = this.config;
    const known = profile.samplesAt(slot) >= minSamples ? profile.read(slot) : undefined;
    for (let j = 0; j < width; j++) this.putSample(j, ring.window(a + j, w), known);
    profile.learn(slot, this.sampleBaseline(width, ring, a));
  }

  private putSample(j: number, stats: WindowStats, known: Baseline | undefined): void {
    const x = known === undefined ? stats : winsorise(stats, known, this.config);
    this.samples[0][j] = x.spend;
    this.samples[1][j] = x.requests;
    this.samples[2][j] = x.logUnitCost;
  }

  /** Median and MAD of the `n` windows put; the cost MAD per request, from the `n` minutes from `first`. */
  private sampleBaseline(n: number, ring: MinuteRing, first: number): Baseline {
    const [spend, spendMad] = medianAndMad(this.samples[0], n, this.deviations);
    const [requests, requestsMad] = medianAndMad(this.samples[1], n, this.deviations);
    const [logUnitCost] = medianAndMad(this.samples[2], n, this.deviations);
    // Overlapping windows' means vary less than independent ones would: a MAD taken from them made z too large.
    const logUnitCostMad = Number.isNaN(logUnitCost)
      ? Number.NaN
      : median(this.costDeviations, ring.unitCostDeviations(first, first + n - 1, logUnitCost, this.costDeviations));
    return { spend, spendMad, requests, requestsMad, logUnitCost, logUnitCostMad };
  }

  private refreshOffset(nowMs: number): void {
    if (this.zone === undefined) return;
    const hour = Math.floor(nowMs / 3_600_000);
    if (hour === this.offsetHour) return;
    this.offsetHour = hour;
    this.offset = Math.round(offsetAt(nowMs, this.zone) / MINUTE_MS);
  }
}

const usd = (logCost: number) => (Number.isFinite(logCost) ? Math.exp(logCost) : undefined);

function view(scope: string, s: ScopeState): ScopeAnomalyState {
  const r = s.last;
  const state: ScopeAnomalyState = {
    scope,
    level: s.open?.level ?? "none",
    anomalous: r?.anomalous ?? false,
    baseline: r?.source ?? "none",
    spendUsdPerHour: (r?.now.spend ?? 0) * 60,
    baselineUsdPerHour: (r?.base.spend ?? 0) * 60,
    requestsPerMinute: r?.now.requests ?? 0,
    baselineRequestsPerMinute: r?.base.requests ?? 0,
    zSpend: r?.zSpend ?? 0,
    zRequests: r?.zRequests ?? 0,
    zCostPerRequest: r?.zUnitCost ?? 0,
  };
  if (s.open !== undefined) state.startedAt = s.open.startedAt;
  if (s.lastAt !== undefined) state.evaluatedAt = s.lastAt;
  return state;
}
