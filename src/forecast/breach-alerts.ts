import type { AlertEvent } from "../alerts/index.js";
import type { ForecastService, ScopeProjection } from "./service.js";

/**
 * projected_budget_breach: refits the forecasts and raises an alert for every budget level the forecast reaches
 * before its period ends. The alert id is (scope, period instance, limit, kind), so the sender sends each at most
 * once per scope, level and period, across replicas when Redis claims it. A level already reached is the budget
 * stage's to report (soft/hard alerts), not a projection.
 */
export class BreachAlerts {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly forecasts: Pick<ForecastService, "refresh">,
    private readonly send: (event: AlertEvent) => void,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Refits now and sends what the forecasts project; returns the events (sent or already sent before). */
  async check(nowMs = Date.now()): Promise<AlertEvent[]> {
    const events = projectedBreaches(await this.forecasts.refresh(nowMs), nowMs);
    for (const event of events) this.send(event);
    return events;
  }

  /** Checks every `intervalMs` in the background (the refit is the "nightly and on demand" fit, run hourly). */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => void this.check().catch(this.onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export function projectedBreaches(projections: readonly ScopeProjection[], nowMs: number): AlertEvent[] {
  const events: AlertEvent[] = [];
  for (const p of projections) {
    for (const b of p.breaches) {
      if (b.date === null || p.spentToDateUsd >= b.limitUsd) continue;
      events.push({
        kind: "projected_budget_breach",
        scope: p.scope,
        period: `${p.period}:${p.periodStart?.slice(0, 10) ?? "total"}`,
        threshold: b.limitUsd,
        usedFraction: p.spentToDateUsd / b.limitUsd,
        spentUsd: p.spentToDateUsd,
        limitUsd: b.limitUsd,
        projectedDate: b.date,
        forecastUsd: p.forecastPeriodEndUsd,
        at: nowMs,
      });
    }
  }
  return events;
}
