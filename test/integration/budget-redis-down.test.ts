import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { BudgetsConfigSchema } from "../../src/budget/definition.js";
import { BudgetService, CountersUnavailableError } from "../../src/budget/service.js";
import { RedisCounters } from "../../src/state/redis.js";

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
});
