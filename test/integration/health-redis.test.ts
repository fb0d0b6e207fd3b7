import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { upstreamHttpError } from "../../src/providers/http.js";
import { DeploymentHealth, type DeploymentHealthOptions } from "../../src/resilience/health.js";
import { RedisHealthStore } from "../../src/state/health-redis.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const serverError = () => upstreamHttpError("p", 500, '{"error":{"message":"boom"}}', {});
const rateLimited = (seconds: number) =>
  upstreamHttpError("p", 429, '{"error":{"message":"slow down"}}', { "retry-after": String(seconds) });
const rateLimitedMs = (ms: number) =>
  upstreamHttpError("p", 429, '{"error":{"message":"slow down"}}', { "retry-after-ms": String(ms) });

/** Polls until `check` holds, failing after `timeoutMs`; returns how long it took. */
async function within(timeoutMs: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(10);
  }
  return Date.now() - started;
}

describe("DeploymentHealth shared through Redis", () => {
  const prefix = `tg-test:${randomUUID()}`;
  const open: DeploymentHealth[] = [];
  let admin: Redis;

  async function replica(options: DeploymentHealthOptions = {}): Promise<DeploymentHealth> {
    const store = await RedisHealthStore.connect({ url: REDIS_URL, prefix });
    const health = await DeploymentHealth.create({
      store,
      breaker: { kind: "consecutive", failures: 2, halfOpenAfterMs: 400 },
      ...options,
    });
    open.push(health);
    return health;
  }

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.close()));
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  });

  afterAll(async () => {
    await admin.quit();
  });

  it("a breaker opening on one replica makes the deployment ineligible on the other within a second", async () => {
    const a = await replica();
    const b = await replica();
    expect(b.isEligible("gpt-east")).toBe(true);
    await a.onFailure("gpt-east", serverError());
    await a.onFailure("gpt-east", serverError());
    expect(a.isEligible("gpt-east")).toBe(false);
    await within(1_000, () => !b.isEligible("gpt-east"));
    expect(b.reason("gpt-east")).toBe("breaker open on another replica");
    expect(b.isEligible("gpt-west")).toBe(true);
    // A's probe keeps B out while it runs (one probe for the fleet), and its success lets B back in at once,
    // long before B's copy of the probe window (400 ms) would have run out.
    await sleep(420);
    expect(a.admit("gpt-east")).toBe(true);
    await within(1_000, () => !b.isEligible("gpt-east"));
    await a.onSuccess("gpt-east", 50);
    expect(await within(1_000, () => b.isEligible("gpt-east"))).toBeLessThan(200);
  });

  it("a cooldown on one replica is seen by the other within a second, and by one that starts later", async () => {
    const a = await replica();
    const b = await replica();
    await a.onFailure("claude", rateLimited(30));
    await within(1_000, () => !b.isEligible("claude"));
    expect(b.reason("claude")).toBe("cooling down after a rate limit");
    const late = await replica();
    expect(late.isEligible("claude")).toBe(false);
    expect(late.snapshot().claude?.cooldownUntil).toBeGreaterThan(Date.now() + 25_000);
  });

  it("keeps each hint in a key that expires when the state it describes ends", async () => {
    const a = await replica();
    await a.onFailure("gemini", rateLimitedMs(200));
    const key = `${prefix}:health:cooldown:gemini`;
    let ttl = -2;
    for (let i = 0; i < 50 && ttl < 0; i++) {
      ttl = await admin.pttl(key);
      if (ttl < 0) await sleep(10);
    }
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
    await sleep(ttl + 20);
    expect(await admin.exists(key)).toBe(0);
  });
});

describe("DeploymentHealth with Redis unreachable", () => {
  it("starts, publishes and judges locally without throwing", async () => {
    const started = Date.now();
    const store = await RedisHealthStore.connect({ url: "redis://127.0.0.1:1", prefix: `tg-test:${randomUUID()}` });
    const health = await DeploymentHealth.create({
      store,
      breaker: { kind: "consecutive", failures: 2, halfOpenAfterMs: 60_000 },
    });
    try {
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await store.snapshot()).toEqual([]);
      await health.onFailure("d1", serverError());
      await health.onFailure("d1", serverError());
      await health.onFailure("d2", rateLimited(30));
      expect(health.isEligible("d1")).toBe(false);
      expect(health.reason("d1")).toBe("breaker open");
      expect(health.isEligible("d2")).toBe(false);
      expect(health.isEligible("d3")).toBe(true);
    } finally {
      await health.close();
    }
  });
});
