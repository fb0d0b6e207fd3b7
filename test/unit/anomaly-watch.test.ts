import { describe, expect, it } from "vitest";
import type { AlertEvent } from "../../src/alerts/index.js";
import { AnomalyDetector } from "../../src/anomaly/index.js";
import { AnomalyWatch } from "../../src/insights/anomaly-watch.js";
import type { ScopeMinute } from "../../src/usage/index.js";

const MIN = 60_000;
const START = Date.parse("2026-11-24T09:00:00Z");
const LAG = 2 * MIN;

/** What the ledger would answer: minute rows for blue and green (org acme), blue running away from `runawayAt`. */
function ledger(minutes: number, runawayAt: number): ScopeMinute[] {
  const rows: ScopeMinute[] = [];
  for (let m = 0; m < minutes; m++) {
    const minuteMs = START + m * MIN;
    const runaway = m >= runawayAt;
    const blue = runaway ? { requests: 300, costUsd: 15 } : { requests: 10, costUsd: 0.1 };
    rows.push({ minuteMs, orgId: "acme", teamId: "blue", keyId: "k-blue", pricedRequests: blue.requests, ...blue });
    rows.push({
      minuteMs,
      orgId: "acme",
      teamId: "green",
      keyId: "k-green",
      requests: 12,
      pricedRequests: 10,
      costUsd: 0.1,
    });
  }
  return rows;
}

function watchOver(rows: readonly ScopeMinute[], brakeScope: string | undefined) {
  const alerts: AlertEvent[] = [];
  const braked: string[] = [];
  const logs: string[] = [];
  const watch = new AnomalyWatch({
    detector: new AnomalyDetector({ brakeOnCritical: (scope) => scope === brakeScope }),
    source: async (from, to) => rows.filter((r) => r.minuteMs >= from && r.minuteMs < to),
    alert: (e) => alerts.push(e),
    brake: async (scope) => braked.push(scope),
    log: { warn: (_obj, msg) => logs.push(msg) },
    lagMs: LAG,
    backfillMs: 6 * 3_600_000,
  });
  return { watch, alerts, braked, logs };
}

describe("AnomalyWatch on the ledger's minutes", () => {
  const RUNAWAY = 180;
  const rows = ledger(RUNAWAY + 20, RUNAWAY);

  it("reads each new minute per org, team and key; a runaway team raises its alerts within minutes and trips its brake", async () => {
    const { watch, alerts, braked, logs } = watchOver(rows, "team:blue");
    await watch.backfill(START + LAG);
    let detectedAfter: number | undefined;
    for (let m = 1; m <= RUNAWAY + 20; m++) {
      // The clock runs LAG ahead of what the ledger has complete.
      const events = await watch.tick(START + m * MIN + LAG);
      if (m <= RUNAWAY) expect(events).toEqual([]);
      else if (detectedAfter === undefined && events.length > 0) detectedAfter = m - RUNAWAY;
    }
    expect(detectedAfter).toBeLessThanOrEqual(5);
    const scopes = new Set(alerts.map((a) => a.scope));
    expect(scopes.has("team:blue")).toBe(true);
    expect(scopes.has("key:k-blue")).toBe(true);
    expect(scopes.has("team:green")).toBe(false);
    const blue = alerts.filter((a) => a.scope === "team:blue");
    expect(blue.map((a) => a.kind)).toContain("anomaly_critical");
    expect(new Set(blue.map((a) => `${a.period}|${a.kind}`)).size).toBe(blue.length);
    expect(blue[0]?.anomaly?.rate).toBeGreaterThan(blue[0]?.anomaly?.baseline ?? Infinity);
    expect(braked).toEqual(["team:blue"]);
    expect(logs.some((l) => l.startsWith("anomaly."))).toBe(true);
    expect(watch.report((s) => s.startsWith("team:")).open.map((e) => e.scope)).toEqual(["team:blue"]);
    expect(watch.report((s) => s === "team:green").scopes.map((s) => s.scope)).toEqual(["team:green"]);
  });

  it("a replica started late replays the history and reaches the same verdicts, with the same alert ids", async () => {
    const early = watchOver(rows, undefined);
    await early.watch.backfill(START + LAG);
    for (let m = 1; m <= RUNAWAY + 10; m++) await early.watch.tick(START + m * MIN + LAG);

    // Started just before the runaway: three hours of history come from the ledger, not from live traffic.
    const late = watchOver(rows, undefined);
    await late.watch.backfill(START + (RUNAWAY - 1) * MIN + LAG);
    for (let m = RUNAWAY; m <= RUNAWAY + 10; m++) await late.watch.tick(START + m * MIN + LAG);

    const ids = (a: AlertEvent[]) => a.map((e) => `${e.scope}|${e.period}|${e.kind}`).sort();
    expect(ids(late.alerts).length).toBeGreaterThan(0);
    expect(ids(late.alerts)).toEqual(ids(early.alerts));
  });
});
