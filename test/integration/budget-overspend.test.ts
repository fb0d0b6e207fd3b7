import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { BudgetsConfigSchema } from "../../src/budget/definition.js";
import { type BudgetRequest, BudgetService } from "../../src/budget/service.js";
import { mulberry32 } from "../../src/routing/strategies/index.js";
import { type BudgetCounters, toMicroUsd, toMicroUsdCeil } from "../../src/state/counters.js";
import { MemoryCounters } from "../../src/state/memory.js";
import { RedisCounters } from "../../src/state/redis.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `tg-test:${randomUUID()}`;
const REQUESTS = 600;
const LIMIT_USD = 1;

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

interface Refusal {
  requestedMicro: number;
  headroomMicro: number;
}

/** 600 concurrent requests spread over the replicas, each reserving its max and settling at most that. */
async function overspend(replicas: BudgetService[], seed: number) {
  const random = mulberry32(seed); // seeded: a failure replays with the same costs
  const refusals: Refusal[] = [];
  let settledMicro = 0;
  let served = 0;
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const service = replicas[i % replicas.length] as BudgetService;
      const maxCostUsd = Math.round((0.001 + random() * 0.02) * 1e6) / 1e6;
      const actualUsd = Math.round(maxCostUsd * (0.3 + random() * 0.7) * 1e6) / 1e6;
      const delay = Math.floor(random() * 20);
      const req: BudgetRequest = {
        teamId: "blue",
        keyId: "k1",
        alias: "chat",
        provider: "openai",
        maxCostUsd,
        maxTokens: 500,
      };
      await sleep(Math.floor(random() * 10));
      const decision = await service.reserve(req);
      if (!decision.ok) {
        const b = decision.breach;
        // Headroom as the atomic check saw it: limit - spent - reserved (in-flight holds).
        const headroomMicro =
          toMicroUsd(b.limitUsd ?? 0) - toMicroUsd(b.spentUsd ?? 0) - toMicroUsd(b.reservedUsd ?? 0);
        refusals.push({ requestedMicro: toMicroUsdCeil(maxCostUsd), headroomMicro });
        return;
      }
      await sleep(delay); // the upstream call
      await service.settle(decision.reservation, actualUsd, 400);
      settledMicro += toMicroUsd(actualUsd);
      served++;
    }),
  );
  return { refusals, settledMicro, served };
}

async function check(replicas: BudgetService[], counters: BudgetCounters) {
  const { refusals, settledMicro, served } = await overspend(replicas, 42);
  const [state] = await counters.read(["key:k1:total:total"]);
  expect(state?.reservedMicroUsd).toBe(0);
  expect(state?.spentMicroUsd).toBe(settledMicro);
  expect(settledMicro).toBeLessThanOrEqual(LIMIT_USD * 1e6);
  expect(served).toBeGreaterThan(50);
  expect(refusals.length).toBeGreaterThan(0);
  // Never refused while the real headroom (beyond in-flight holds) could take the request.
  for (const r of refusals) expect(r.headroomMicro).toBeLessThan(r.requestedMicro);
  // Once the burst is over, the rest of the budget stays usable: sequential $0.02 requests run until less than $0.02 is left.
  let spentMicro = settledMicro;
  for (let i = 0; ; i++) {
    const service = replicas[i % replicas.length] as BudgetService;
    const d = await service.reserve({ keyId: "k1", alias: "chat", provider: "openai", maxCostUsd: 0.02, maxTokens: 1 });
    if (!d.ok) break;
    await service.settle(d.reservation, 0.02, 1);
    spentMicro += 20_000;
  }
  const [after] = await counters.read(["key:k1:total:total"]);
  expect(after?.spentMicroUsd).toBe(spentMicro);
  expect(spentMicro).toBeLessThanOrEqual(LIMIT_USD * 1e6);
  expect(LIMIT_USD * 1e6 - spentMicro).toBeLessThan(20_000);
  return { refusals: refusals.length, served, settledMicro, finalSpentMicro: spentMicro };
}

const config = BudgetsConfigSchema.parse({
  definitions: [
    { scope: "key", id: "k1", period: "total", limit_usd: LIMIT_USD },
    { scope: "team", id: "blue", level: "soft", limit_usd: 0.5 },
  ],
});

describe("a hard budget is never overspent", () => {
  it("across three replicas sharing Redis, 600 concurrent requests", async () => {
    const prefix = `${PREFIX}:${randomUUID()}`;
    const counters = [0, 1, 2].map(() => new RedisCounters({ url: REDIS_URL, prefix }));
    const replicas = counters.map((c) => new BudgetService({ counters: c, config }));
    try {
      const result = await check(replicas, counters[0] as RedisCounters);
      console.log("redis x3", result);
    } finally {
      await Promise.all(counters.map((c) => c.close()));
    }
  });

  it("in embedded mode with one process, 600 concurrent requests", async () => {
    const counters = new MemoryCounters();
    const result = await check([new BudgetService({ counters, config })], counters);
    console.log("memory", result);
  });
});
