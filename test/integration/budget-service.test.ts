import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { z } from "zod";
import { BudgetsConfigSchema } from "../../src/budget/definition.js";
import {
  type BudgetBreach,
  type BudgetDecision,
  type BudgetRequest,
  BudgetService,
  breachMessage,
} from "../../src/budget/service.js";
import type { BudgetCounters } from "../../src/state/counters.js";
import { MemoryCounters } from "../../src/state/memory.js";
import { RedisCounters } from "../../src/state/redis.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `tg-test:${randomUUID()}`;

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const BLUE: BudgetRequest = {
  orgId: "acme",
  teamId: "blue",
  keyId: "k1",
  alias: "chat",
  provider: "openai",
  maxCostUsd: 0.1,
  maxTokens: 100,
};

function ok(decision: BudgetDecision) {
  if (!decision.ok) throw new Error(`refused: ${breachMessage(decision.breach)}`);
  return decision;
}

function refused(decision: BudgetDecision): BudgetBreach {
  if (decision.ok) throw new Error("expected a refusal");
  return decision.breach;
}

describe.each(["memory", "redis"] as const)("budget service (%s)", (kind) => {
  let t = 0;
  const now = () => t;
  const open: BudgetCounters[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  function service(config: z.input<typeof BudgetsConfigSchema>, observer = {}) {
    const counters =
      kind === "memory"
        ? new MemoryCounters({ now })
        : new RedisCounters({ url: REDIS_URL, prefix: `${PREFIX}:${randomUUID()}`, now });
    open.push(counters);
    return new BudgetService({ counters, config: BudgetsConfigSchema.parse(config), now, observer });
  }

  async function spend(s: BudgetService, req: BudgetRequest, usd: number) {
    const d = ok(await s.reserve({ ...req, maxCostUsd: usd }));
    await s.settle(d.reservation, usd, 10);
    return d;
  }

  it("refuses when the team's alias budget is spent, naming scope, period and reset time; other scopes pass", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const s = service({
      definitions: [
        { scope: "team", id: "blue", alias: "chat", limit_usd: 0.25, period: "monthly" },
        { scope: "org", id: "acme", limit_usd: 100 },
      ],
    });
    await spend(s, BLUE, 0.2);
    const breach = refused(await s.reserve(BLUE));
    expect(breach).toMatchObject({
      scope: "team blue, alias chat",
      period: "monthly",
      level: "hard",
      limitUsd: 0.25,
      spentUsd: 0.2,
      reservedUsd: 0,
      requestedUsd: 0.1,
    });
    expect(breach.resetAt?.toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(breachMessage(breach)).toBe(
      "monthly budget exceeded for team blue, alias chat; resets at 2026-12-01T00:00:00.000Z",
    );
    ok(await s.reserve({ ...BLUE, alias: "embed" }));
    ok(await s.reserve({ ...BLUE, teamId: "red" }));
    // The org budget counted both spends and the passes, not the refusal.
    const util = await s.utilization();
    expect(util).toEqual([
      { scope: "team blue, alias chat", period: "monthly", fraction: 0.2 / 0.25 },
      { scope: "org acme", period: "monthly", fraction: 0.2 / 100 },
    ]);
  });

  it("resets a daily budget at local midnight in America/New_York", async () => {
    t = Date.parse("2026-11-25T04:59:00Z"); // 23:59 on the 24th in New York
    const s = service({
      timezone: "America/New_York",
      definitions: [{ scope: "key", id: "k1", period: "daily", limit_usd: 1 }],
    });
    await spend(s, BLUE, 0.95);
    const breach = refused(await s.reserve(BLUE));
    expect(breach.resetAt?.toISOString()).toBe("2026-11-25T05:00:00.000Z");
    t = Date.parse("2026-11-25T04:59:59.999Z");
    refused(await s.reserve(BLUE));
    t = Date.parse("2026-11-25T05:00:00Z");
    ok(await s.reserve(BLUE));
  });

  it("limits tokens as well as dollars", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const s = service({ definitions: [{ scope: "key", id: "k1", limit_tokens: 150 }] });
    ok(await s.reserve(BLUE));
    expect(refused(await s.reserve(BLUE))).toMatchObject({ scope: "key k1", limitTokens: 150 });
  });

  it("serves past a soft budget and warns from warn_at", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const s = service({ definitions: [{ scope: "team", id: "blue", level: "soft", limit_usd: 1, warn_at: 0.5 }] });
    expect(ok(await s.reserve(BLUE)).warnings).toEqual([]);
    await spend(s, BLUE, 0.6);
    expect(ok(await s.reserve(BLUE)).warnings).toEqual([
      {
        scope: "team blue",
        period: "monthly",
        level: "soft",
        usedFraction: 0.6,
        warnAt: 0.5,
        spentUsd: 0.6,
        limitUsd: 1,
      },
    ]);
    await spend(s, BLUE, 0.9);
    expect(ok(await s.reserve(BLUE)).warnings[0]?.usedFraction).toBeCloseTo(1.5);
  });

  it("degrades to the cheaper alias past the threshold", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const s = service({
      definitions: [{ scope: "team", id: "blue", alias: "chat", limit_usd: 1, degrade: { at: 0.7, to: "chat-mini" } }],
    });
    expect(ok(await s.reserve(BLUE)).degradeTo).toBeUndefined();
    await spend(s, BLUE, 0.7);
    expect(ok(await s.reserve(BLUE)).degradeTo).toBe("chat-mini");
  });

  it("drops the model instead of failing when its guardrail says so, still charging the team", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const s = service({
      definitions: [
        { scope: "team", id: "blue", provider: "openai", limit_usd: 0.15, drop_model_when_over: true },
        { scope: "team", id: "blue", limit_usd: 10 },
      ],
    });
    await spend(s, BLUE, 0.1);
    const d = ok(await s.reserve(BLUE));
    expect(d).toMatchObject({
      dropModel: true,
      droppedScopes: ["team blue, provider openai"],
      droppedProviders: ["openai"],
    });
    expect(d.reservation.charges.map((c) => c.key)).toEqual(["team:blue:monthly:2026-11"]);
  });

  it("trips the emergency brake on spend velocity, refuses during the cool-down, then serves again", async () => {
    t = Date.parse("2026-11-25T12:00:10Z");
    const breaches: string[] = [];
    const s = service(
      { definitions: [{ scope: "team", id: "blue", emergency: { usd_per_minute: 1, cooldown_s: 60 } }] },
      { breached: (scope: string, level: string) => breaches.push(`${level} ${scope}`) },
    );
    await spend(s, BLUE, 0.6);
    ok(await s.reserve(BLUE));
    await spend(s, BLUE, 0.6);
    expect(breaches).toEqual(["emergency team blue"]);
    const breach = refused(await s.reserve(BLUE));
    expect(breach).toMatchObject({ level: "emergency", scope: "team blue" });
    expect(breach.resetAt?.getTime()).toBe(t + 60_000);
    expect(await s.brakes()).toEqual([{ scope: "team blue", until: new Date(t + 60_000) }]);
    t += 60_001;
    ok(await s.reserve(BLUE));
  });

  it("trips on a multiple of the trailing hour, and an admin can reset the brake", async () => {
    t = Date.parse("2026-11-25T12:00:10Z");
    const s = service({
      definitions: [{ scope: "org", id: "acme", limit_usd: 100, emergency: { multiple_of_trailing_hour: 5 } }],
    });
    for (let m = 0; m < 30; m++) {
      await spend(s, BLUE, 0.1);
      t += 60_000;
    }
    // Steady $0.10 a minute for 30 minutes never tripped; 5 x that mean is $0.50 in this minute, more trips it.
    await spend(s, BLUE, 0.5);
    ok(await s.reserve(BLUE));
    await spend(s, BLUE, 0.01);
    expect(refused(await s.reserve(BLUE))).toMatchObject({ level: "emergency", period: "monthly" });
    await s.resetBrake("org acme");
    ok(await s.reserve(BLUE));
  });

  it("trips the brake on a critical anomaly only where the emergency rule asks for it", async () => {
    t = Date.parse("2026-11-25T12:00:10Z");
    const s = service({
      definitions: [
        { scope: "team", id: "blue", limit_usd: 100, emergency: { on_critical_anomaly: true, cooldown_s: 120 } },
        { scope: "org", id: "acme", limit_usd: 100, emergency: { usd_per_minute: 50 } },
      ],
    });
    expect(await s.brakeOnAnomaly("org:acme")).toEqual([]);
    ok(await s.reserve(BLUE));
    expect(await s.brakeOnAnomaly("team:blue")).toEqual(["team blue"]);
    expect(refused(await s.reserve(BLUE))).toMatchObject({ level: "emergency", scope: "team blue" });
    t += 120_001;
    ok(await s.reserve(BLUE));
  });

  it("releases a hold and settles once, through the service", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const settled: number[] = [];
    const s = service(
      { definitions: [{ scope: "key", id: "k1", limit_usd: 0.15 }] },
      { settled: (e: { actualUsd: number }) => settled.push(e.actualUsd) },
    );
    const first = ok(await s.reserve(BLUE));
    refused(await s.reserve(BLUE));
    await s.release(first.reservation);
    const second = ok(await s.reserve(BLUE));
    await s.settle(second.reservation, 0.05, 10);
    await s.settle(second.reservation, 0.05, 10);
    expect((await s.utilization())[0]?.fraction).toBeCloseTo(0.05 / 0.15);
    expect(settled).toEqual([0.05]);
  });

  it("applies replaced definitions and leaves requests no budget covers alone", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const s = service({ definitions: [] });
    const free = ok(await s.reserve(BLUE));
    expect(free.reservation.id).toBe("");
    await s.settle(free.reservation, 1, 1);
    s.setDefinitions(
      BudgetsConfigSchema.parse({ definitions: [{ scope: "key", id: "k1", limit_usd: 0.05 }] }).definitions,
    );
    expect(refused(await s.reserve(BLUE)).scope).toBe("key k1");
  });

  it("reports reservations and hard breaches to the observer", async () => {
    t = Date.parse("2026-11-25T12:00:00Z");
    const events: string[] = [];
    const s = service(
      { definitions: [{ scope: "team", id: "blue", limit_usd: 0.15, warn_at: 0.5 }] },
      {
        reserved: (e: { scopes: string[]; warnings: unknown[] }) =>
          events.push(`reserved ${e.scopes} ${e.warnings.length}`),
        breached: (scope: string, level: string) => events.push(`breached ${scope} ${level}`),
      },
    );
    await spend(s, BLUE, 0.1);
    ok(await s.reserve({ ...BLUE, maxCostUsd: 0.01 }));
    refused(await s.reserve(BLUE));
    expect(events).toEqual(["reserved team blue 0", "reserved team blue 1", "breached team blue hard"]);
  });
});
