import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { BudgetCounters, Charge } from "../../src/state/counters.js";
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

function hard(key: string, usd: number, limitUsd: number, extra: Partial<Charge> = {}): Charge {
  return { key, usd, tokens: 0, limitUsd, hard: true, ...extra };
}

describe.each(["memory", "redis"] as const)("budget counters (%s)", (kind) => {
  let t = Date.parse("2026-11-25T12:00:00Z");
  const now = () => t;
  let counters: BudgetCounters;

  beforeEach(async () => {
    await counters?.close();
    t = Date.parse("2026-11-25T12:00:00Z");
    counters =
      kind === "memory"
        ? new MemoryCounters({ now })
        : new RedisCounters({ url: REDIS_URL, prefix: `${PREFIX}:${randomUUID()}`, now });
  });
  afterAll(() => counters.close());

  it("reserves all or nothing across scopes and names the scope that failed", async () => {
    const first = await counters.reserve([hard("team", 0.6, 1), hard("key", 0.6, 0.7)], 60_000);
    expect(first.ok).toBe(true);
    const second = await counters.reserve([hard("team", 0.3, 1), hard("key", 0.3, 0.7)], 60_000);
    expect(second).toMatchObject({
      ok: false,
      reason: "limit",
      index: 1,
      key: "key",
      dimension: "usd",
      state: { spentMicroUsd: 0, reservedMicroUsd: 600_000 },
      limitMicroUsd: 700_000,
      requestedMicroUsd: 300_000,
    });
    // Nothing was held on "team" by the refused reservation.
    const [team, key] = await counters.read(["team", "key"]);
    expect(team?.reservedMicroUsd).toBe(600_000);
    expect(key?.reservedMicroUsd).toBe(600_000);
  });

  it("checks token limits and counts soft charges without refusing them", async () => {
    const tokens = await counters.reserve([{ key: "tok", usd: 0, tokens: 600, limitTokens: 1000, hard: true }], 1000);
    expect(tokens.ok).toBe(true);
    const over = await counters.reserve([{ key: "tok", usd: 0, tokens: 500, limitTokens: 1000, hard: true }], 1000);
    expect(over).toMatchObject({ ok: false, dimension: "tokens", limitTokens: 1000 });
    const soft = await counters.reserve([{ key: "soft", usd: 5, tokens: 0, limitUsd: 1, hard: false }], 1000);
    expect(soft.ok).toBe(true);
  });

  it("lets an unsettled reservation expire after its TTL (a crashed replica)", async () => {
    const held = await counters.reserve([hard("ttl", 0.9, 1)], 30_000);
    expect(held.ok).toBe(true);
    expect((await counters.reserve([hard("ttl", 0.2, 1)], 30_000)).ok).toBe(false);
    t += 29_999;
    expect((await counters.reserve([hard("ttl", 0.2, 1)], 30_000)).ok).toBe(false);
    t += 2;
    const after = await counters.reserve([hard("ttl", 0.2, 1)], 30_000);
    expect(after.ok).toBe(true);
    expect((await counters.read(["ttl"]))[0]).toMatchObject({ reservedMicroUsd: 200_000, spentMicroUsd: 0 });
  });

  it("settles exactly once: actual spend replaces the hold, a second settle is a no-op", async () => {
    const r = await counters.reserve(
      [hard("s", 0.5, 1, { tokens: 100 }), hard("s2", 0.5, 10, { tokens: 100 })],
      60_000,
    );
    if (!r.ok) throw new Error("expected ok");
    expect(r.states[0]).toMatchObject({ reservedMicroUsd: 500_000, reservedTokens: 100 });
    const actual = [hard("s", 0.123456, 1, { tokens: 42 }), hard("s2", 0.123456, 10, { tokens: 42 })];
    expect(await counters.settle(r.reservationId, actual)).toBe(true);
    expect(await counters.settle(r.reservationId, actual)).toBe(false);
    const states = await counters.read(["s", "s2"]);
    for (const s of states) {
      expect(s).toMatchObject({ spentMicroUsd: 123_456, reservedMicroUsd: 0, spentTokens: 42, reservedTokens: 0 });
    }
  });

  it("release drops the hold without spend; settle after an expired hold still records the spend", async () => {
    const r = await counters.reserve([hard("rel", 0.5, 1)], 1_000);
    if (!r.ok) throw new Error("expected ok");
    await counters.release(r.reservationId);
    expect((await counters.read(["rel"]))[0]).toMatchObject({ spentMicroUsd: 0, reservedMicroUsd: 0 });
    await counters.settle(r.reservationId, [hard("rel", 0.5, 1)]);
    expect((await counters.read(["rel"]))[0]?.spentMicroUsd).toBe(0);

    const late = await counters.reserve([hard("late", 0.5, 1)], 1_000);
    if (!late.ok) throw new Error("expected ok");
    t += 5_000;
    await counters.settle(late.reservationId, [hard("late", 0.25, 1)]);
    expect((await counters.read(["late"]))[0]).toMatchObject({ spentMicroUsd: 250_000, reservedMicroUsd: 0 });
  });

  it("keeps micro-dollar sums exact where floats drift", async () => {
    for (let i = 0; i < 10; i++) {
      const r = await counters.reserve([hard("f", 0.1, 1)], 60_000);
      if (!r.ok) throw new Error(`refused at ${i}`);
      await counters.settle(r.reservationId, [hard("f", 0.1, 1)]);
    }
    expect((await counters.read(["f"]))[0]?.spentMicroUsd).toBe(1_000_000);
    expect((await counters.reserve([hard("f", 0.000001, 1)], 60_000)).ok).toBe(false);
  });

  it("refuses while a brake is set, until it lifts or is cleared", async () => {
    const until = await counters.tripBrake("team:blue", 60_000);
    expect(until).toBe(t + 60_000);
    expect(await counters.readBrakes(["team:blue", "team:red"])).toEqual([until, 0]);
    expect(await counters.reserve([hard("b", 0.1, 1)], 1000, { brakes: ["team:red", "team:blue"] })).toEqual({
      ok: false,
      reason: "brake",
      index: 1,
      key: "team:blue",
      untilMs: until,
    });
    t += 60_001;
    expect((await counters.reserve([hard("b", 0.1, 1)], 1000, { brakes: ["team:blue"] })).ok).toBe(true);
    await counters.incrVelocity(["team:blue"], 2);
    await counters.tripBrake("team:blue", 60_000);
    await counters.clearBrake("team:blue");
    expect(await counters.readBrakes(["team:blue"])).toEqual([0]);
    // The spend that tripped it is forgotten too: the next settle must not trip the brake again at once.
    expect((await counters.readVelocity(["team:blue"]))[0]?.lastMinuteUsd).toBe(0);
  });

  it("tracks spend velocity per minute and over the trailing hour", async () => {
    t = Date.parse("2026-11-25T12:00:30Z");
    await counters.incrVelocity(["v"], 0.5);
    t += 60_000;
    await counters.incrVelocity(["v"], 0.25);
    const [v] = await counters.incrVelocity(["v"], 0.25);
    expect(v).toEqual({ key: "v", lastMinuteUsd: 0.5, trailingHourUsd: 0.5, trailingMinutes: 1 });
    t += 61 * 60_000;
    expect(await counters.readVelocity(["v"])).toEqual([
      { key: "v", lastMinuteUsd: 0, trailingHourUsd: 0, trailingMinutes: 0 },
    ]);
  });
});
