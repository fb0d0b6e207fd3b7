import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors.js";
import { type RateLimitRequest, RateLimits } from "../../src/ratelimit/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN = randomUUID().slice(0, 8);
const clients: Redis[] = [];
const limiters: RateLimits[] = [];

function redisClient(): Redis {
  const client = new Redis(REDIS_URL, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  clients.push(client);
  return client;
}

type StoreName = "memory" | "redis";

/** A replica's limiter; replicas of one test share the prefix (and, on Redis, the counters). */
async function replica(store: StoreName, prefix: string, burstWindowSec?: number): Promise<RateLimits> {
  const options = { keyPrefix: `tg-test:${RUN}:${prefix}`, ...(burstWindowSec ? { burstWindowSec } : {}) };
  let limits: RateLimits;
  if (store === "redis") {
    const client = redisClient();
    // Until the connection is ready the limiters use their per-replica insurance limiter.
    await client.ping();
    limits = new RateLimits({ ...options, redis: client });
  } else limits = new RateLimits(options);
  limiters.push(limits);
  return limits;
}

async function refusalOf(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("admitted, expected a 429");
}

afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  const cleaner = new Redis(REDIS_URL);
  const keys = await cleaner.keys(`tg-test:${RUN}:*`);
  if (keys.length > 0) await cleaner.del(...keys);
  await cleaner.quit();
  await Promise.all(clients.map((c) => c.quit()));
});

describe.each(["memory", "redis"] as const)("rate limits (%s)", (store) => {
  it("admits up to the key's rpm, then refuses with OpenAI's 429 and retry-after", async () => {
    const limits = await replica(store, `rpm-${store}`);
    const request: RateLimitRequest = { keyId: "k1", limits: { key: { rpm: 3 } }, predictedTokens: 0 };
    const first = await limits.admit(request);
    expect(first.headers).toEqual({
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-remaining-requests": "2",
      "x-ratelimit-reset-requests": expect.stringMatching(/^(1m0s|59(\.\d+)?s)$/),
    });
    await limits.admit(request);
    const third = await limits.admit(request);
    expect(third.headers["x-ratelimit-remaining-requests"]).toBe("0");

    const refused = await refusalOf(limits.admit(request));
    expect(refused.status).toBe(429);
    expect(refused.type).toBe("rate_limit_error");
    expect(refused.code).toBe("rate_limit_exceeded");
    expect(refused.message).toMatch(/requests per min \(RPM\): Limit 3, Used 3, Requested 1/);
    const retryAfter = Number(refused.headers?.["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers?.["x-ratelimit-remaining-requests"]).toBe("0");
    expect(refused.headers?.["x-ratelimit-limit-requests"]).toBe("3");

    // Another key has its own window.
    await expect(limits.admit({ ...request, keyId: "k2" })).resolves.toBeDefined();
  });

  it("charges predicted tokens, then corrects them to the actual usage", async () => {
    const limits = await replica(store, `tpm-${store}`);
    const request: RateLimitRequest = { keyId: "k1", limits: { key: { tpm: 1000 } }, predictedTokens: 600 };
    const admission = await limits.admit(request);
    expect(admission.headers["x-ratelimit-remaining-tokens"]).toBe("400");
    expect(admission.headers["x-ratelimit-limit-tokens"]).toBe("1000");

    // 600 predicted + 600 more does not fit; the refusal does not eat the window.
    const refused = await refusalOf(limits.admit(request));
    expect(refused.message).toMatch(/tokens per min \(TPM\): Limit 1000, Used 600, Requested 600/);

    // The call used 100 tokens: the reward frees 500.
    await limits.correct(admission, 100 - 600);
    const second = await limits.admit(request);
    expect(second.headers["x-ratelimit-remaining-tokens"]).toBe("300");

    // The second call used 900: a penalty of 300 spends the rest; the next request is refused.
    await limits.correct(second, 900 - 600);
    const after = await refusalOf(limits.admit({ ...request, predictedTokens: 1 }));
    expect(after.code).toBe("rate_limit_exceeded");
    expect(after.headers?.["x-ratelimit-remaining-tokens"]).toBe("0");
  });

  it("gives back every charge when one dimension refuses (all or nothing)", async () => {
    const limits = await replica(store, `all-${store}`);
    const limitsOf = { key: { rpm: 10, tpm: 10_000 }, team: { rpm: 2 } };
    const request: RateLimitRequest = { keyId: "k1", teamId: "t1", limits: limitsOf, predictedTokens: 1000 };
    await limits.admit(request);
    const second = await limits.admit(request);
    // The team's rpm (0 left) is tighter than the key's (8 left).
    expect(second.headers["x-ratelimit-remaining-requests"]).toBe("0");
    expect(second.headers["x-ratelimit-limit-requests"]).toBe("2");
    await refusalOf(limits.admit(request));
    // The refused request took nothing from the key: 8 rpm and 8000 tokens left (another team).
    const other = await limits.admit({ ...request, teamId: "t2" });
    expect(other.headers["x-ratelimit-remaining-tokens"]).toBe("7000");
    expect(other.headers["x-ratelimit-remaining-requests"]).toBe("1");
  });

  it("limits an alias across keys", async () => {
    const limits = await replica(store, `alias-${store}`);
    const alias = { rpm: 2 };
    await limits.admit({ keyId: "a", alias: "gpt-4o", limits: { alias }, predictedTokens: 0 });
    await limits.admit({ keyId: "b", alias: "gpt-4o", limits: { alias }, predictedTokens: 0 });
    const refused = await refusalOf(
      limits.admit({ keyId: "c", alias: "gpt-4o", limits: { alias }, predictedTokens: 0 }),
    );
    expect(refused.message).toMatch(/model gpt-4o/);
    await expect(
      limits.admit({ keyId: "c", alias: "gpt-4o-mini", limits: { alias }, predictedTokens: 0 }),
    ).resolves.toBeDefined();
  });

  it("serves a burst beyond the minute's limit, then refuses until a window resets", async () => {
    const limits = await replica(store, `burst-${store}`, 300);
    const request: RateLimitRequest = {
      keyId: "k1",
      limits: { key: { rpm: 2, burstRequests: 2 } },
      predictedTokens: 0,
    };
    const admitted = [];
    for (let i = 0; i < 4; i++) admitted.push(await limits.admit(request));
    expect(admitted.map((a) => a.headers["x-ratelimit-remaining-requests"])).toEqual(["1", "0", "0", "0"]);
    expect(admitted[3]?.headers["x-ratelimit-limit-requests"]).toBe("2");
    const refused = await refusalOf(limits.admit(request));
    // The minute's window resets first (burst window is 5 minutes).
    expect(Number(refused.headers?.["retry-after"])).toBeLessThanOrEqual(60);
  });

  it("holds one key's rpm across three replicas under 200 concurrent requests", async () => {
    const replicas = await Promise.all([0, 1, 2].map(() => replica(store, `replicas-${store}`)));
    const request: RateLimitRequest = { keyId: "shared", limits: { key: { rpm: 60 } }, predictedTokens: 0 };
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (replicas[i % 3] as RateLimits).admit(request)),
    );
    const accepted = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter(
      (r) => r.status === "rejected" && r.reason instanceof GatewayError && r.reason.status === 429,
    ).length;
    expect(accepted + refused).toBe(200);
    if (store === "redis") {
      // One counter in Redis, no tolerance: exactly the limit is admitted.
      expect(accepted).toBe(60);
    } else {
      // Embedded limits are per process: each replica admits its own 60.
      expect(accepted).toBe(180);
    }
  });
});

describe("rate limits with Redis unreachable", () => {
  it("falls back to the per-replica insurance limiter instead of failing requests", async () => {
    const limits = new RateLimits({ redis: "redis://127.0.0.1:1", keyPrefix: `tg-test:${RUN}:down` });
    limiters.push(limits);
    const request: RateLimitRequest = { keyId: "k1", limits: { key: { rpm: 2 } }, predictedTokens: 0 };
    await limits.admit(request);
    await limits.admit(request);
    const refused = await refusalOf(limits.admit(request));
    expect(refused.code).toBe("rate_limit_exceeded");
  });
});
