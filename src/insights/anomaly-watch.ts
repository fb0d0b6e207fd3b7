import type { AlertEvent } from "../alerts/index.js";
import type { AnomalyDetector, AnomalyEvent, ScopeAnomalyState } from "../anomaly/index.js";
import type { UsageRecord } from "../usage/index.js";

export interface AnomalyWatchDeps {
  detector: AnomalyDetector;
  /** The alert webhooks (deduplicated by the sender on the event's id). */
  alert?: (event: AlertEvent) => void;
  /** A critical anomaly whose scope asks for it: trip the scope's emergency brake. */
  brake?: (scope: string) => Promise<unknown>;
  log: { warn(obj: object, msg: string): void };
}

/**
 * Feeds every usage record to the anomaly detector under the budget scope keys it counts for (org:…, team:…,
 * key:…), judges once a minute, and turns what it finds into alerts, log lines and brakes. Per replica: each
 * replica judges the traffic it served (the rates are relative to each replica's own baseline, and the dollar
 * floor applies to each replica's share).
 */
export class AnomalyWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly open = new Map<string, AnomalyEvent>();

  constructor(private readonly deps: AnomalyWatchDeps) {}

  /** O(1) per scope; a request refused before auth has no scope and is not watched. */
  record(r: UsageRecord): void {
    const cost = r.actualCostUsd ?? 0;
    const { detector } = this.deps;
    if (r.orgId !== undefined) detector.record(`org:${r.orgId}`, r.ts, cost);
    if (r.teamId !== undefined) detector.record(`team:${r.teamId}`, r.ts, cost);
    if (r.keyId !== undefined) detector.record(`key:${r.keyId}`, r.ts, cost);
  }

  /** Judges the last whole minute and acts on what opened, escalated or cleared. */
  async tick(nowMs = Date.now()): Promise<AnomalyEvent[]> {
    const events = this.deps.detector.evaluate(nowMs);
    for (const event of events) {
      if (event.kind === "cleared") this.open.delete(event.scope);
      else this.open.set(event.scope, event);
      this.deps.log.warn({ anomaly: event }, `anomaly.${event.kind}`);
      if (event.kind !== "cleared") this.deps.alert?.(alertOf(event));
      if (event.brake && this.deps.brake) await this.deps.brake(event.scope);
    }
    return events;
  }

  /** Open anomalies and every watched scope's state, for GET /api/anomalies; `visible` filters by scope key. */
  report(visible: (scope: string) => boolean = () => true): { open: AnomalyEvent[]; scopes: ScopeAnomalyState[] } {
    return {
      open: [...this.open.values()].filter((e) => visible(e.scope)),
      scopes: this.deps.detector.state().filter((s) => visible(s.scope)),
    };
  }

  start(intervalMs = 60_000): void {
    this.stop();
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.deps.log.warn({ err: (err as Error).message }, "anomaly check failed"));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** One alert per anomaly and level: the period is the anomaly's start, so a new anomaly alerts again. */
function alertOf(event: AnomalyEvent): AlertEvent {
  return {
    kind: event.level === "critical" ? "anomaly_critical" : "anomaly_warning",
    scope: event.scope,
    period: `anomaly:${new Date(event.startedAt).toISOString()}`,
    threshold: 0,
    usedFraction: 0,
    spentUsd: event.spendUsdPerHour,
    limitUsd: 0,
    anomaly: {
      metric: event.metric === "requests" ? "requests" : "spend",
      rate: event.metric === "requests" ? event.requestsPerMinute * 60 : event.spendUsdPerHour,
      baseline: event.metric === "requests" ? event.baselineRequestsPerMinute * 60 : event.baselineUsdPerHour,
      zScore: event.zScore,
    },
    at: event.at,
  };
}
