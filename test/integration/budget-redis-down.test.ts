import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { BudgetsConfigSchema } from "../../src/budget/definition.js";
import { BudgetService, CountersUnavailableError } from "../../src/budget/service.js";
import { RedisCounters } from "../../src/state/redis.js";
import { TcpProxy, waitFor } from "./harness.js";

/** A port nothing listens on: bind an ephemeral one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("Redis down", () => {
  it("reserve rejects quickly with CountersUnavailableError and nothing crashes", async () => {
    const port = await closedPort();
    const counters = new RedisCounters({ url: `redis://127.0.0.1:${port}`, prefix: "tg-test:down" });
    const service = new BudgetService({
      counters,
      config: BudgetsConfigSchema.parse({ definitions: [{ scope: "key", id: "k1", limit_usd: 1 }] }),
    });
    expect(service.redisDown).toBe("fail_closed");
    try {
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const error = await service
          .reserve({ keyId: "k1", alias: "chat", provider: "openai", maxCostUsd: 0.01, maxTokens: 10 })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(error).toBeInstanceOf(CountersUnavailableError);
        expect((error as CountersUnavailableError).code).toBe("counters_unavailable");
        expect(performance.now() - started).toBeLessThan(1_000);
      }
      // A request no budget covers never touches the counters.
      const free = await service.reserve({
        keyId: "k2",
        alias: "chat",
        provider: "openai",
        maxCostUsd: 1,
        maxTokens: 1,
      });
      expect(free.ok).toBe(true);
    } finally {
      await counters.close();
    }
  });

  it("fails fast while Redis is away and serves again once it returns, with the same client", async () => {
    const proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.start();
    const prefix = `tg-test:recover:${randomUUID()}`;
    const counters = new RedisCounters({
      url: `redis://127.0.0.1:${proxy.port}`,
      prefix,
    });
    const service = new BudgetService({
      counters,
      config: BudgetsConfigSchema.parse({ definitions: [{ scope: "key", id: "k1", limit_usd: 1 }] }),
    });
    const req = { keyId: "k1", alias: "chat", provider: "openai", maxCostUsd: 0.01, maxTokens: 10 };
    try {
      expect((await service.reserve(req)).ok).toBe(true);
      await proxy.stop();
      const started = performance.now();
      await expect(service.reserve(req)).rejects.toBeInstanceOf(CountersUnavailableError);
      expect(performance.now() - started).toBeLessThan(1_000);
      await proxy.start();
      let recovered = false;
      await waitFor(
        async () => {
          recovered = await service.reserve(req).then(
            (d) => d.ok,
            () => false,
          );
          return recovered;
        },
        "reserve after Redis returns",
        5_000,
      );
      expect(recovered).toBe(true);
    } finally {
      await counters.close();
      await proxy.stop();
      const redis = new Redis("redis://127.0.0.1:6379");
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });
});
