import { describe, expect, it } from "vitest";
import type { AlertEvent } from "../../src/alerts/index.js";
import { AnomalyDetector } from "../../src/anomaly/index.js";
import { AnomalyWatch } from "../../src/insights/anomaly-watch.js";
import type { UsageRecord } from "../../src/usage/index.js";

const MIN = 60_000;
const START = Date.parse("2026-11-24T09:00:00Z");

function record(ts: number, teamId: string, costUsd: number): UsageRecord {
  return {
    requestId: `r-${ts}-${Math.random()}`,
    ts,
    orgId: "acme",
    teamId,
    keyId: `k-${teamId}`,
    alias: "chat",
    promptTokens: 10,
    completionTokens: 10,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    actualCostUsd: costUsd,
    latencyMs: 10,
    status: 200,
    outcome: "ok",
    stream: false,
    endpoint: "chat",
  };
}

describe("AnomalyWatch", () => {
  it("feeds org, team and key scopes; a runaway team raises one alert per level and trips the brake it asks for", async () => {
    const alerts: AlertEvent[] = [];
    const braked: string[] = [];
    const logs: string[] = [];
    const watch = new AnomalyWatch({
      detector: new AnomalyDetector({ brakeOnCritical: (scope) => scope === "team:blue" }),
      alert: (e) => alerts.push(e),
      brake: async (scope) => braked.push(scope),
      log: { warn: (_obj, msg) => logs.push(msg) },
    });
    let t = START;
    // Three quiet hours: 10 requests a minute at 1 cent for blue and green.
    for (; t < START + 180 * MIN; t += MIN) {
      for (let i = 0; i < 10; i++) {
        watch.record(record(t + i * 5_000, "blue", 0.01));
        watch.record(record(t + i * 5_000, "green", 0.01));
      }
      expect(await watch.tick(t + MIN)).toEqual([]);
    }
    // Blue runs away: 30x the requests at 5x the cost each, for 20 minutes.
    let detectedAfter: number | undefined;
    for (let m = 0; m < 20; m++, t += MIN) {
      for (let i = 0; i < 300; i++) watch.record(record(t + i * 200, "blue", 0.05));
      for (let i = 0; i < 10; i++) watch.record(record(t + i * 5_000, "green", 0.01));
      const events = await watch.tick(t + MIN);
      if (detectedAfter === undefined && events.length > 0) detectedAfter = m + 1;
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
    expect(logs).toContain("anomaly.critical");
    expect(watch.report((s) => s.startsWith("team:")).open.map((e) => e.scope)).toEqual(["team:blue"]);
    expect(watch.report((s) => s === "team:green").scopes.map((s) => s.scope)).toEqual(["team:green"]);
  });
});
