import { describe, expect, it } from "vitest";
import type { AuthedKey } from "../../src/auth/index.js";
import { BudgetsConfigSchema } from "../../src/budget/definition.js";
import { BudgetService } from "../../src/budget/service.js";
import { RateLimitsSchema } from "../../src/config/schema.js";
import { GatewayError } from "../../src/errors.js";
import { RequestContext } from "../../src/pipeline/context.js";
import { type AdmissionCheck, admitStage } from "../../src/pipeline/stages/admit.js";
import { budgetCheck } from "../../src/pipeline/stages/budget.js";
import { rateLimitCheck } from "../../src/pipeline/stages/rate-limit.js";
import { RateLimits } from "../../src/ratelimit/index.js";
import { MemoryCounters } from "../../src/state/memory.js";

const key = { id: "k1", teamId: "blue", orgId: "acme", rpm: 2, tpm: null } as unknown as AuthedKey;
const silent = { debug: () => {}, warn: () => {} };

function request(maxCostUsd: number): RequestContext {
  const ctx = new RequestContext(`req-${Math.random()}`, "chat", performance.now());
  ctx.alias = "chat";
  ctx.key = key;
  ctx.identity = { keyId: "k1", teamId: "blue", orgId: "acme" };
  ctx.estimate = {
    promptTokens: 10,
    completionTokens: 10,
    costUsd: maxCostUsd,
    upperCostUsd: maxCostUsd,
    priced: true,
  };
  return ctx;
}

function gateway() {
  const budgets = new BudgetService({
    counters: new MemoryCounters(),
    config: BudgetsConfigSchema.parse({
      definitions: [{ scope: "key", id: "k1", period: "total", limit_usd: 1, level: "hard" }],
    }),
  });
  const limits = new RateLimits({ keyPrefix: `t-${Math.random()}` });
  const stage = admitStage([
    rateLimitCheck(limits, RateLimitsSchema.parse({})),
    budgetCheck(budgets, new Map(), silent, undefined),
  ]);
  const admit = async (ctx: RequestContext) => {
    let reached = false;
    await stage.run(ctx, async () => {
      reached = true;
    });
    return reached;
  };
  return { budgets, admit };
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: GatewayError) => err.code,
  );

describe("admission: rate limits and budgets at once, all or nothing", () => {
  it("starts every check before awaiting any (one round trip with Redis, not two)", async () => {
    const started: string[] = [];
    const slow = (name: string): AdmissionCheck => ({
      name,
      take: async () => {
        started.push(name);
        await new Promise((r) => setTimeout(r, 60));
        return { keep: () => {}, giveBack: () => {} };
      },
    });
    const t0 = performance.now();
    await admitStage([slow("a"), slow("b")]).run(request(0.1), async () => {});
    expect(started).toEqual(["a", "b"]);
    expect(performance.now() - t0).toBeLessThan(110);
  });

  it("releases the budget hold of a request the rate limit refuses", async () => {
    const { budgets, admit } = gateway();
    expect(await admit(request(0.4))).toBe(true);
    expect(await admit(request(0.4))).toBe(true);
    // rpm 2 is spent: the third is refused by the limiter, and the 0.4 its budget check reserved is given back.
    expect(await refusal(admit(request(0.4)))).toBe("rate_limit_exceeded");
    await new Promise((r) => setImmediate(r));
    // 0.8 held by the two admitted; 0.2 left only if the refused request's hold was released.
    const left = await budgets.reserve({
      keyId: "k1",
      teamId: "blue",
      orgId: "acme",
      alias: "chat",
      provider: "x",
      maxCostUsd: 0.2,
      maxTokens: 1,
    });
    expect(left.ok).toBe(true);
  });

  it("gives back the rate-limit slot of a request the budget refuses", async () => {
    const { admit } = gateway();
    expect(await admit(request(0.4))).toBe(true);
    expect(await refusal(admit(request(0.9)))).toBe("budget_exceeded");
    await new Promise((r) => setImmediate(r));
    // rpm 2: the refused request did not count, so one more is admitted, and only then the limiter refuses.
    expect(await admit(request(0.1))).toBe(true);
    expect(await refusal(admit(request(0.1)))).toBe("rate_limit_exceeded");
  });

  it("answers with the rate limit's refusal when both refuse, and keeps nothing", async () => {
    const kept: string[] = [];
    const given: string[] = [];
    const check = (name: string, refuse: boolean): AdmissionCheck => ({
      name,
      take: async () => {
        if (refuse) throw new GatewayError(name, { status: 429, type: "rate_limit_error", code: name });
        return { keep: () => void kept.push(name), giveBack: () => void given.push(name) };
      },
    });
    const stage = admitStage([check("first", true), check("ok", false), check("second", true)]);
    expect(await refusal(stage.run(request(0.1), async () => {}))).toBe("first");
    expect(kept).toEqual([]);
    expect(given).toEqual(["ok"]);
  });
});
