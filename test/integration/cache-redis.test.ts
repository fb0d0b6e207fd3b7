import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeCacheEntry } from "../../src/cache/index.js";
import { RedisCacheStore } from "../../src/state/cache-redis.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const answer = (text: string) =>
  makeCacheEntry({
    completion: JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      choices: [{ message: { content: text } }],
    }),
    costUsd: 0.0042,
    latencyMs: 850,
    ttlMs: 60_000,
  });

describe("RedisCacheStore shared by replicas", () => {
  const prefix = `tg-test:${randomUUID()}`;
  const open: RedisCacheStore[] = [];
  let admin: Redis;

  async function replica(): Promise<RedisCacheStore> {
    const store = new RedisCacheStore({ url: REDIS_URL, prefix });
    open.push(store);
    expect(await store.ready()).toBe(true);
    return store;
  }

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  });

  afterAll(async () => {
    await admin.quit();
  });

  it("serves on one replica what another stored, with its cost, latency and size", async () => {
    const a = await replica();
    const b = await replica();
    const entry = answer("Paris is the capital of France. ✓");
    await a.set("k1", entry, 60_000);
    const got = await b.get("k1");
    expect(got).toMatchObject({
      body: entry.body,
      costUsd: 0.0042,
      latencyMs: 850,
      createdAt: entry.createdAt,
      bytes: Buffer.byteLength(entry.body),
    });
    expect(got?.expiresAt).toBeGreaterThan(Date.now() + 50_000);
    expect(await b.get("other")).toBeUndefined();
  });

  it("counts hits across replicas", async () => {
    const a = await replica();
    const b = await replica();
    await a.set("k", answer("hi"), 60_000);
    expect((await a.get("k"))?.hits).toBe(1);
    expect((await b.get("k"))?.hits).toBe(2);
  });

  it("lets an entry expire with its TTL, leaving no key behind", async () => {
    const a = await replica();
    const b = await replica();
    await a.set("short", answer("soon gone"), 300);
    const ttl = await admin.pttl(`${prefix}:cache:short`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    expect(await b.get("short")).toBeDefined();
    await sleep(450);
    expect(await b.get("short")).toBeUndefined();
    expect(await admin.exists(`${prefix}:cache:short`)).toBe(0);
  });

  it("forgets on every replica what one deleted, and replaces on set", async () => {
    const a = await replica();
    const b = await replica();
    await a.set("k", answer("first"), 60_000);
    await b.set("k", answer("second"), 60_000);
    expect((await a.get("k"))?.body).toContain("second");
    await b.delete("k");
    expect(await a.get("k")).toBeUndefined();
  });

  it("counts its own entries and bytes in stats", async () => {
    const a = await replica();
    const first = answer("one");
    const second = answer("two two");
    await a.set("s1", first, 60_000);
    await a.set("s2", second, 60_000);
    const stats = await a.stats();
    expect(stats.entries).toBe(2);
    expect(stats.bytes).toBe(first.bytes + second.bytes);
  });

  it("reads a key it cannot make sense of as a miss instead of failing", async () => {
    const a = await replica();
    await admin.set(`${prefix}:cache:wrong-type`, "not a hash", "PX", 60_000);
    await expect(a.get("wrong-type")).resolves.toBeUndefined();
  });
});

describe("RedisCacheStore with Redis unreachable", () => {
  it("misses, drops writes and never throws, each call within 200 ms", async () => {
    const store = new RedisCacheStore({ url: "redis://127.0.0.1:1", prefix: `tg-test:${randomUUID()}` });
    try {
      expect(await store.ready()).toBe(false);
      const calls: [string, () => Promise<unknown>][] = [
        ["get", () => store.get("k")],
        ["set", () => store.set("k", answer("lost"), 60_000)],
        ["delete", () => store.delete("k")],
        ["stats", () => store.stats()],
      ];
      for (const [name, call] of calls) {
        const started = performance.now();
        await call(); // a rejection fails the test
        expect(performance.now() - started, name).toBeLessThan(200);
      }
      expect(await store.get("k")).toBeUndefined();
      expect(await store.stats()).toEqual({ entries: 0, bytes: 0, evictions: 0 });
    } finally {
      await store.close();
    }
  });

  it("misses at once while still connecting, before the first attempt has failed", async () => {
    const store = new RedisCacheStore({ url: "redis://127.0.0.1:1" });
    try {
      const started = performance.now();
      expect(await store.get("k")).toBeUndefined();
      await store.set("k", answer("lost"), 60_000);
      expect(performance.now() - started).toBeLessThan(50);
    } finally {
      await store.close();
    }
  });
});
