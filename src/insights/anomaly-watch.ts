import type { AlertEvent } from "../alerts/index.js";
import type { AnomalyDetector, AnomalyEvent, ScopeAnomalyState } from "../anomaly/index.js";
import type { ScopeMinute } from "../usage/index.js";

const MINUTE_MS = 60_000;
const REPLAY_STEP_MS = 10 * MINUTE_MS;

export interface AnomalyWatchDeps {
  detector: AnomalyDetector;
  /** Requests and spend per minute and identity in [fromMs, toMs): the usage ledger (scopeMinutes). */
  source(fromMs: number, toMs: number): Promise<ScopeMinute[]>;
  /** The first record at or after a time (firstRecordAt): the replay starts there, not at an empty past. */
  firstRecordAt?(fromMs: number): Promise<number | undefined>;
  /** The alert webhooks (deduplicated by the sender on the event's id, across replicas with Redis). */
  alert?: (event: AlertEvent) => void;
  /** A critical anomaly whose scope asks for it: trip the scope's emergency brake. */
  brake?: (scope: string) => Promise<unknown>;
  log: { warn(obj: object, msg: string): void };
  /**
   * How far behind the clock the watch reads: the ledger writes in batches (and a long stream's record lands at
   * its end), so the newest minutes are not complete yet. Default 2 minutes.
   */
  lagMs?: number;
  /** History replayed at start, so baselines survive a restart. Default 22 days (three weeks of slots, plus one). */
  backfillMs?: number;
}

/**
 * Judges spend anomalies on the shared usage ledger, once a minute: it reads each new minute's requests and
 * spend per org, team and key (the budget scope keys), feeds the detector, and turns what it finds into alerts,
 * log lines and brakes. Every replica reads the same ledger and so reaches the same verdicts at the same
 * minutes; the alert id (scope and the anomaly's start) is the same on all, and Redis lets one of them send it.
 * N replicas behave as one, and a restart replays the history instead of learning from nothing.
 */
export class AnomalyWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly open = new Map<string, AnomalyEvent>();
  private readonly lagMs: number;
  private readonly backfillMs: number;
  /** The ledger has been read up to here (exclusive, a minute boundary). */
  private fedUntil: number | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: AnomalyWatchDeps) {
    this.lagMs = deps.lagMs ?? 2 * MINUTE_MS;
    this.backfillMs = deps.backfillMs ?? 22 * 86_400_000;
  }

  /**
   * Replays the ledger's history minute by minute; what it would have raised then is not raised now. Run at
   * start; queued behind a tick in progress, never beside one.
   */
  backfill(nowMs = Date.now()): Promise<void> {
    const run = this.running.then(() => this.replay(nowMs));
    this.running = run.catch(() => undefined);
    return run;
  }

  private async replay(nowMs: number): Promise<void> {
    const until = this.readableUntil(nowMs);
    let from = until - this.backfillMs;
    const first = await this.deps.firstRecordAt?.(from);
    if (this.deps.firstRecordAt !== undefined) from = first === undefined ? until : Math.max(from, floorMinute(first));
    this.fedUntil = from;
    // Ten minutes at a time, yielding between them: the replay judges every scope at every minute (~2.5 µs a
    // scope-minute: 200 scopes over 22 days take ~16 s of background CPU at start), so a longer step would hold
    // the event loop, and the requests behind it, for too long.
    while (from < until) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopped) return;
      const to = Math.min(until, from + REPLAY_STEP_MS);
      // What the replay finds is history: remembered (an anomaly still open stays open), not alerted.
      for (const event of this.feed(await this.deps.source(from, to), to)) this.remember(event);
      from = to;
    }
    for (const event of this.deps.detector.evaluate(until)) this.remember(event);
  }

  /** Reads the minutes completed since the last call and acts on what opened, escalated or cleared. */
  tick(nowMs = Date.now()): Promise<AnomalyEvent[]> {
    // One at a time: a slow query must not let two ticks feed the same minutes.
    const run = this.running.then(() => this.step(nowMs));
    this.running = run.catch(() => undefined);
    return run;
  }

  /** Open anomalies and every watched scope's state, for GET /api/anomalies; `visible` filters by scope key. */
  report(visible: (scope: string) => boolean = () => true): { open: AnomalyEvent[]; scopes: ScopeAnomalyState[] } {
    return {
      open: [...this.open.values()].filter((e) => visible(e.scope)),
      scopes: this.deps.detector.state().filter((s) => visible(s.scope)),
    };
  }

  /** Backfills, then ticks every interval (aligned to nothing: each tick reads what is new). */
  start(intervalMs = MINUTE_MS): void {
    this.stop();
    this.stopped = false;
    const onError = (err: unknown) => this.deps.log.warn({ err: (err as Error).message }, "anomaly check failed");
    this.backfill().catch(onError);
    this.timer = setInterval(() => void this.tick().catch(onError), intervalMs);
    this.timer.unref();
  }

  /** Stops the ticks and a replay still running (the store may be closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async step(nowMs: number): Promise<AnomalyEvent[]> {
    const until = this.readableUntil(nowMs);
    const from = this.fedUntil ?? until - MINUTE_MS;
    if (until <= from) return [];
    const events = this.feed(await this.deps.source(from, until), until);
    events.push(...this.deps.detector.evaluate(until));
    for (const event of events) {
      this.remember(event);
      this.deps.log.warn({ anomaly: event }, `anomaly.${event.kind}`);
      if (event.kind !== "cleared") this.deps.alert?.(alertOf(event));
      if (event.brake && this.deps.brake) await this.deps.brake(event.scope);
    }
    return events;
  }

  /**
   * Feeds the minutes before `until` in order, judging each minute as the feed passes it (so the seasonal slots
   * learn as they would live); returns what those judgements raised. The last minute is judged by the caller.
   */
  private feed(rows: readonly ScopeMinute[], until: number): AnomalyEvent[] {
    const { detector } = this.deps;
    const events: AnomalyEvent[] = [];
    let minute = this.fedUntil ?? until;
    for (const r of rows) {
      // Judging each minute as the replay passes it keeps the detector's learning what it is live.
      while (minute < r.minuteMs) {
        minute += MINUTE_MS;
        events.push(...detector.evaluate(minute));
      }
      const free = r.requests - r.pricedRequests;
      for (const scope of scopesOf(r)) {
        if (r.pricedRequests > 0) detector.record(scope, r.minuteMs, r.costUsd, r.pricedRequests);
        if (free > 0) detector.record(scope, r.minuteMs, 0, free);
      }
    }
    this.fedUntil = until;
    return events;
  }

  private remember(event: AnomalyEvent): void {
    if (event.kind === "cleared") this.open.delete(event.scope);
    else this.open.set(event.scope, event);
  }

  private readableUntil(nowMs: number): number {
    return floorMinute(nowMs - this.lagMs);
  }
}

const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

function scopesOf(r: ScopeMinute): string[] {
  const scopes: string[] = [];
  if (r.orgId !== null) scopes.push(`org:${r.orgId}`);
  if (r.teamId !== null) scopes.push(`team:${r.teamId}`);
  if (r.keyId !== null) scopes.push(`key:${r.keyId}`);
  return scopes;
}

/** One alert per anomaly and level: the period is the anomaly's start, so a new anomaly alerts again. */
function alertOf(event: AnomalyEvent): AlertEvent {
  const requests = event.metric === "requests";
  return {
    kind: event.level === "critical" ? "anomaly_critical" : "anomaly_warning",
    scope: event.scope,
    period: `anomaly:${new Date(event.startedAt).toISOString()}`,
    threshold: 0,
    usedFraction: 0,
    spentUsd: event.spendUsdPerHour,
    limitUsd: 0,
    anomaly: {
      metric: requests ? "requests" : "spend",
      rate: requests ? event.requestsPerMinute * 60 : event.spendUsdPerHour,
      baseline: requests ? event.baselineRequestsPerMinute * 60 : event.baselineUsdPerHour,
      zScore: event.zScore,
    },
    at: event.at,
  };
}
