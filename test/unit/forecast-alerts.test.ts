import { describe, expect, it } from "vitest";
import type { AlertEvent } from "../../src/alerts/index.js";
import { BreachAlerts, projectedBreaches } from "../../src/forecast/breach-alerts.js";
import type { ScopeProjection } from "../../src/forecast/service.js";

const NOW = Date.parse("2026-11-10T12:00:00Z");

function projection(over: Partial<ScopeProjection>): ScopeProjection {
  return {
    scope: "team blue",
    scopeKey: "team:blue",
    kind: "team",
    id: "blue",
    period: "monthly",
    periodStart: "2026-11-01T00:00:00.000Z",
    periodEnd: "2026-12-01T00:00:00.000Z",
    horizonEnd: "2026-12-01T00:00:00.000Z",
    spentToDateUsd: 40,
    forecastPeriodEndUsd: 130,
    low: 110,
    high: 150,
    method: "holt_winters",
    insufficientData: false,
    historyDays: 60,
    backtestMape: {},
    days: [],
    breaches: [],
    ...over,
  };
}

describe("projected_budget_breach", () => {
  it("alerts for each level the forecast reaches before the period ends, not for one already reached", () => {
    const events = projectedBreaches(
      [
        projection({
          breaches: [
            { level: "soft", limitUsd: 80, date: "2026-11-19" },
            { level: "hard", limitUsd: 100, date: "2026-11-23" },
          ],
        }),
        // Heading under its limit: nothing.
        projection({ scope: "team green", breaches: [{ level: "hard", limitUsd: 500, date: null }] }),
        // Already over: the budget stage's hard alert, not a projection.
        projection({
          scope: "team red",
          spentToDateUsd: 120,
          breaches: [{ level: "hard", limitUsd: 100, date: "2026-11-10" }],
        }),
      ],
      NOW,
    );
    expect(events.map((e) => [e.scope, e.limitUsd, e.projectedDate])).toEqual([
      ["team blue", 80, "2026-11-19"],
      ["team blue", 100, "2026-11-23"],
    ]);
    expect(events[1]).toMatchObject({
      kind: "projected_budget_breach",
      period: "monthly:2026-11-01",
      forecastUsd: 130,
      spentUsd: 40,
      usedFraction: 0.4,
      at: NOW,
    });
  });

  it("refits on every check and hands each event to the sender (which sends each id once)", async () => {
    let refits = 0;
    const sent: AlertEvent[] = [];
    const alerts = new BreachAlerts(
      {
        refresh: async () => {
          refits++;
          return [projection({ breaches: [{ level: "hard", limitUsd: 100, date: "2026-11-23" }] })];
        },
      },
      (e) => sent.push(e),
    );
    await alerts.check(NOW);
    await alerts.check(NOW + 3_600_000);
    expect(refits).toBe(2);
    expect(sent).toHaveLength(2);
    expect(new Set(sent.map((e) => `${e.scope}|${e.period}|${e.threshold}|${e.kind}`)).size).toBe(1);
  });
});
