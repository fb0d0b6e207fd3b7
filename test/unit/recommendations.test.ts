import { describe, expect, it } from "vitest";
import type { CostEngine } from "../../src/cost/engine.js";
import {
  type AliasFacts,
  type BudgetUse,
  costStrategyPrice,
  MONTH_DAYS,
  type Offer,
  type Quote,
  type Recommendation,
  type RecommendationInput,
  type RepeatRow,
  recommend,
  type TrafficRow,
} from "../../src/insights/recommendations.js";
import { RequestContext } from "../../src/pipeline/context.js";
import { usageRecorder } from "../../src/pipeline/stages/usage.js";
import type { Deployment } from "../../src/routing/table.js";
import type { UsageLedger, UsageRecord } from "../../src/usage/index.js";
import { messagesSpan, promptFingerprint } from "../../src/usage/prompt-hash.js";

/** USD per million input / output tokens, by provider/model/region (region "" for none). */
const PRICES: Record<string, [number, number]> = {
  "openai/gpt-4o/": [2.5, 10],
  "azure/gpt-4o/eastus": [2, 8],
  "azure/gpt-4o/westeurope": [2.2, 8.8],
  "openai/gpt-4o-mini/": [0.15, 0.6],
  "anthropic/claude-3-5-haiku/": [0.8, 4],
  "anthropic/claude-sonnet-4/": [3, 15],
  "anthropic/gpt-4o/": [9, 9],
};

const quote: Quote = (offer, counts) => {
  const p = PRICES[`${offer.provider}/${offer.model}/${offer.region ?? ""}`];
  if (p === undefined) return undefined;
  return ((counts.input + counts.cacheRead + counts.cacheWrite) * p[0] + counts.output * p[1]) / 1e6;
};

function offer(provider: string, model: string, fields: Partial<Offer> = {}): Offer {
  return { provider, model, region: undefined, deployment: undefined, quality: undefined, aliases: [], ...fields };
}

const GPT4O = offer("openai", "gpt-4o", { deployment: "openai/gpt-4o", quality: 1265, aliases: ["smart"] });
const MINI = offer("openai", "gpt-4o-mini", { quality: 1272 });
const HAIKU = offer("anthropic", "claude-3-5-haiku", { quality: 1236 });
const AZURE_EAST = offer("azure", "gpt-4o", {
  deployment: "azure-east/gpt-4o",
  region: "eastus",
  quality: 1265,
  aliases: ["other"],
});

/** 1,000 requests of 10,000 prompt and 2,000 completion tokens each. */
function traffic(alias: string, on: Offer, fields: Partial<TrafficRow> = {}): TrafficRow {
  const tokens = { input: 10_000_000, cacheRead: 0, cacheWrite: 0, output: 2_000_000 };
  return {
    alias,
    deployment: on.deployment ?? `${on.provider}/${on.model}`,
    provider: on.provider,
    model: on.model,
    region: on.region,
    requests: 1000,
    tokens,
    costUsd: quote(on, tokens) ?? 0,
    ...fields,
  };
}

function aliasFacts(alias: string, deployments: Offer[], fields: Partial<AliasFacts> = {}): AliasFacts {
  return { alias, strategy: "weighted", costMargin: 0.1, cacheEnabled: false, deployments, ...fields };
}

function input(fields: Partial<RecommendationInput>): RecommendationInput {
  return {
    windowDays: 30,
    repeatWindowDays: 30,
    traffic: [],
    repeats: [],
    aliases: [],
    offers: [],
    budgets: [],
    quote,
    ...fields,
  };
}

const kinds = (rs: Recommendation[]) => rs.map((r) => r.kind);
const only = <K extends Recommendation["kind"]>(rs: Recommendation[], kind: K) =>
  rs.filter((r): r is Extract<Recommendation, { kind: K }> => r.kind === kind);
const monthly = (windowUsd: number, days = 30) => windowUsd * (MONTH_DAYS / days);

describe("cheaper model", () => {
  const smart = aliasFacts("smart", [GPT4O]);

  it("suggests the cheapest model of similar quality, saving the same tokens' price difference scaled to a month", () => {
    const recs = recommend(
      input({ traffic: [traffic("smart", GPT4O)], aliases: [smart], offers: [GPT4O, MINI, HAIKU] }),
    );
    const [rec] = only(recs, "cheaper_model");
    // gpt-4o: 10M × $2.5 + 2M × $10 = $45; gpt-4o-mini: 10M × $0.15 + 2M × $0.6 = $2.70.
    expect(rec?.evidence.currentCostUsd).toBeCloseTo(45, 9);
    expect(rec?.evidence.targetCostUsd).toBeCloseTo(2.7, 9);
    expect(rec?.estimatedMonthlySavingUsd).toBeCloseTo(monthly(42.3), 5);
    expect(rec?.evidence.target).toMatchObject({ provider: "openai", model: "gpt-4o-mini", quality: 1272 });
    expect(rec?.evidence.referenceQuality).toBe(1265);
    expect(rec?.evidence.minQuality).toBeCloseTo(1265 * 0.985, 6);
    expect(rec?.scope).toEqual({ alias: "smart" });
    expect(rec?.evidence.tokens).toEqual({ input: 10_000_000, cacheRead: 0, cacheWrite: 0, output: 2_000_000 });
  });

  it("leaves out models scoring below the tolerance, however cheap", () => {
    const recs = recommend(input({ traffic: [traffic("smart", GPT4O)], aliases: [smart], offers: [GPT4O, HAIKU] }));
    expect(kinds(recs)).not.toContain("cheaper_model");
    // A wider tolerance lets Haiku (1236 >= 1265 × 0.95) in.
    const wide = recommend(input({ traffic: [traffic("smart", GPT4O)], aliases: [smart], offers: [GPT4O, HAIKU] }), {
      qualityTolerance: 0.05,
    });
    expect(only(wide, "cheaper_model")[0]?.evidence.target.model).toBe("claude-3-5-haiku");
  });

  it("says nothing when the served model's quality is unknown, or when only dearer models qualify", () => {
    const unscored = offer("openai", "gpt-4o", { deployment: "openai/gpt-4o" });
    const recs = recommend(
      input({
        traffic: [traffic("smart", unscored)],
        aliases: [aliasFacts("smart", [unscored])],
        offers: [unscored, MINI],
      }),
    );
    expect(kinds(recs)).not.toContain("cheaper_model");
    const sonnet = offer("anthropic", "claude-sonnet-4", { quality: 1335 });
    const dearer = recommend(input({ traffic: [traffic("smart", GPT4O)], aliases: [smart], offers: [GPT4O, sonnet] }));
    expect(kinds(dearer)).toEqual([]);
  });

  it("does not offer another provider's copy of the served model (that is a cheaper deployment)", () => {
    const recs = recommend(
      input({ traffic: [traffic("smart", GPT4O)], aliases: [smart], offers: [GPT4O, AZURE_EAST] }),
    );
    expect(kinds(recs)).toEqual(["cheaper_deployment"]);
  });
});

describe("routing strategy", () => {
  const azure = { ...AZURE_EAST, aliases: ["mixed"] };
  const mixed = aliasFacts("mixed", [GPT4O, azure]);

  it("prices the alias's traffic under strategy cost among its deployments of similar quality", () => {
    const rows = [traffic("mixed", GPT4O, { requests: 500 }), traffic("mixed", azure, { requests: 500 })];
    const [rec] = only(
      recommend(input({ traffic: rows, aliases: [mixed], offers: [GPT4O, azure] })),
      "routing_strategy",
    );
    // Today: $45 on openai + $36 on azure. Under cost: azure (20% cheaper, outside the 10% margin) for both.
    expect(rec?.evidence.currentCostUsd).toBeCloseTo(81, 9);
    expect(rec?.evidence.costStrategyUsd).toBeCloseTo(72, 9);
    expect(rec?.estimatedMonthlySavingUsd).toBeCloseTo(monthly(9), 5);
    expect(rec?.evidence.strategy).toBe("weighted");
    expect(rec?.evidence.eligible.map((e) => e.deployment)).toEqual(["openai/gpt-4o", "azure-east/gpt-4o"]);
  });

  it("is silent for an alias already routed by cost, or whose cheaper deployment is of lower quality", () => {
    const rows = [traffic("mixed", GPT4O, { requests: 500 }), traffic("mixed", azure, { requests: 500 })];
    const byCost = aliasFacts("mixed", [GPT4O, azure], { strategy: "cost" });
    expect(kinds(recommend(input({ traffic: rows, aliases: [byCost] })))).toEqual([]);

    const haiku = { ...HAIKU, deployment: "anthropic/claude-3-5-haiku", aliases: ["mixed"] };
    const lower = aliasFacts("mixed", [GPT4O, haiku]);
    const recs = recommend(input({ traffic: [traffic("mixed", GPT4O)], aliases: [lower] }));
    expect(kinds(recs)).not.toContain("routing_strategy");
  });

  it("expects the cost strategy's 1/price² draw among prices within the margin", () => {
    // Two prices within 10%: E[p] = (1/1 + 1/1.05) / (1/1 + 1/1.05²).
    expect(costStrategyPrice([1, 1.05], 0.1)).toBeCloseTo((1 + 1 / 1.05) / (1 + 1 / 1.05 ** 2), 12);
    expect(costStrategyPrice([1, 2], 0.1)).toBe(1);
    expect(costStrategyPrice([0, 2], 0.1)).toBe(0);
    expect(costStrategyPrice([], 0.1)).toBeUndefined();
  });
});

describe("cheaper deployment", () => {
  it("finds the same upstream model at a cheaper provider or region outside the alias", () => {
    const west = offer("azure", "gpt-4o", { region: "westeurope", quality: 1265 });
    const recs = recommend(
      input({
        traffic: [traffic("smart", GPT4O)],
        aliases: [aliasFacts("smart", [GPT4O])],
        offers: [GPT4O, west, AZURE_EAST],
      }),
    );
    const [rec] = only(recs, "cheaper_deployment");
    // $45 on openai; azure eastus: 10M × $2 + 2M × $8 = $36 (westeurope: $39.60).
    expect(rec?.evidence.target).toMatchObject({
      provider: "azure",
      region: "eastus",
      deployment: "azure-east/gpt-4o",
    });
    expect(rec?.evidence.target.servedByAliases).toEqual(["other"]);
    expect(rec?.evidence.targetCostUsd).toBeCloseTo(36, 9);
    expect(rec?.estimatedMonthlySavingUsd).toBeCloseTo(monthly(9), 5);
    expect(rec?.title).toContain("eastus");
  });

  it("is silent when the other place is dearer or already one of the alias's deployments", () => {
    const pricey = offer("anthropic", "gpt-4o");
    const recs = recommend(
      input({ traffic: [traffic("smart", GPT4O)], aliases: [aliasFacts("smart", [GPT4O])], offers: [pricey] }),
    );
    expect(kinds(recs)).toEqual([]);
    const both = aliasFacts("smart", [GPT4O, AZURE_EAST], { strategy: "cost" });
    expect(
      kinds(recommend(input({ traffic: [traffic("smart", GPT4O)], aliases: [both], offers: [AZURE_EAST] }))),
    ).toEqual([]);
  });
});

describe("cache", () => {
  const repeats: RepeatRow = {
    alias: "faq",
    requests: 100,
    costUsd: 5,
    repeatedRequests: 40,
    repeatedCostUsd: 2,
    repeatedPrompts: 10,
  };

  it("prices the repeats' spend times the expected hit share, over the fingerprints' own window", () => {
    const [rec] = only(recommend(input({ repeats: [repeats], repeatWindowDays: 10 })), "cache");
    expect(rec?.estimatedMonthlySavingUsd).toBeCloseTo(2 * 0.7 * (MONTH_DAYS / 10), 5);
    expect(rec?.evidence).toMatchObject({
      requests: 100,
      repeatedRequests: 40,
      repeatShare: 0.4,
      repeatedPrompts: 10,
      expectedHitShare: 0.7,
      cacheEnabled: false,
    });
    expect(rec?.title).toBe("Cache faq: 40% of its calls repeat an earlier prompt");
  });

  it("says a cached alias's repeats missed, and is silent without repeats", () => {
    const cached = aliasFacts("faq", [], { cacheEnabled: true });
    const [rec] = only(recommend(input({ repeats: [repeats], aliases: [cached] })), "cache");
    expect(rec?.title).toContain("missed the cache");
    expect(rec?.evidence.cacheEnabled).toBe(true);
    const none = recommend(input({ repeats: [{ ...repeats, repeatedRequests: 0, repeatedCostUsd: 0 }] }));
    expect(none).toEqual([]);
  });
});

describe("idle budget", () => {
  function budget(fields: Partial<BudgetUse>): BudgetUse {
    return {
      label: "team blue",
      scope: { teamId: "blue" },
      period: "monthly",
      limitUsd: 500,
      limitTokens: undefined,
      dailyUsd: new Array(30).fill(1 / 3),
      dailyTokens: new Array(30).fill(0),
      currentPeriodUtilization: undefined,
      ...fields,
    };
  }

  it("reports the limit left unused per month, saving nothing", () => {
    const [rec] = only(recommend(input({ budgets: [budget({})] })), "idle_budget");
    // $10 over 30 days is $10.15 a month: 2% of $500, so $489.85 a month unused.
    const mean = 10 * (MONTH_DAYS / 30);
    expect(rec?.estimatedMonthlySavingUsd).toBe(0);
    expect(rec?.evidence.meanUtilization).toBeCloseTo(mean / 500, 6);
    expect(rec?.evidence.idleUsdPerMonth).toBeCloseTo(500 - mean, 5);
    expect(rec?.scope).toEqual({ teamId: "blue" });
  });

  it("takes the busiest day of a daily budget, and the running period, into account", () => {
    const days = new Array(30).fill(0.5);
    days[12] = 5; // one busy day: 50% of $10
    const daily = budget({ period: "daily", limitUsd: 10, dailyUsd: days });
    expect(recommend(input({ budgets: [daily] }))).toEqual([]);
    const quiet = budget({ period: "daily", limitUsd: 10, dailyUsd: new Array(30).fill(0.5) });
    const [rec] = only(recommend(input({ budgets: [quiet] })), "idle_budget");
    expect(rec?.evidence.peakUtilization).toBeCloseTo(0.05, 9);
    expect(rec?.evidence.periodsObserved).toBe(30);
    // 30 days at $0.50 of $10: $9.50 a day unused.
    expect(rec?.evidence.idleUsdPerMonth).toBeCloseTo(9.5 * MONTH_DAYS, 4);
    expect(recommend(input({ budgets: [{ ...quiet, currentPeriodUtilization: 0.9 }] }))).toEqual([]);
  });

  it("measures weekly budgets by whole weeks and token budgets by tokens", () => {
    const tokens = budget({
      period: "weekly",
      limitUsd: undefined,
      limitTokens: 1_000_000,
      dailyUsd: new Array(30).fill(0),
      dailyTokens: new Array(30).fill(1000),
    });
    const [rec] = only(recommend(input({ budgets: [tokens] })), "idle_budget");
    expect(rec?.evidence.periodsObserved).toBe(4);
    expect(rec?.evidence.peakUtilization).toBeCloseTo(7000 / 1_000_000, 9);
    expect(rec?.evidence.idleUsdPerMonth).toBeNull();
    expect(rec?.evidence.idleTokensPerMonth).toBe(Math.round((1_000_000 - 7000) * (MONTH_DAYS / 7)));
  });

  it("is silent for a busy budget, a budget that never resets, and too short a history", () => {
    const busy = budget({ dailyUsd: new Array(30).fill(10) }); // $300 of $500
    expect(recommend(input({ budgets: [busy] }))).toEqual([]);
    expect(recommend(input({ budgets: [budget({ period: "total" })] }))).toEqual([]);
    expect(recommend(input({ budgets: [budget({})], windowDays: 3 }))).toEqual([]);
  });
});

describe("the list", () => {
  it("is sorted by saving, idle budgets last, each scoped to the team the figures are from", () => {
    const recs = recommend(
      input({
        teamId: "blue",
        traffic: [traffic("smart", GPT4O)],
        aliases: [aliasFacts("smart", [GPT4O])],
        offers: [GPT4O, MINI, AZURE_EAST],
        repeats: [
          {
            alias: "smart",
            requests: 1000,
            costUsd: 45,
            repeatedRequests: 100,
            repeatedCostUsd: 0.45,
            repeatedPrompts: 5,
          },
        ],
        budgets: [
          {
            label: "team blue",
            scope: { teamId: "blue" },
            period: "monthly",
            limitUsd: 100,
            limitTokens: undefined,
            dailyUsd: [4.5],
            dailyTokens: [0],
            currentPeriodUtilization: undefined,
          },
        ],
      }),
    );
    expect(kinds(recs)).toEqual(["cheaper_model", "cheaper_deployment", "idle_budget"]);
    // The cache saves 0.45 × 0.7 × 1.01: under the $1 default minimum.
    const low = recommend(
      input({
        repeats: [
          { alias: "smart", requests: 10, costUsd: 1, repeatedRequests: 1, repeatedCostUsd: 0.45, repeatedPrompts: 1 },
        ],
      }),
      {
        minMonthlySavingUsd: 0,
      },
    );
    expect(kinds(low)).toEqual(["cache"]);
    for (const r of recs.slice(0, 2)) {
      expect(r.scope).toEqual({ teamId: "blue", alias: "smart" });
      expect(r.id.startsWith(`${r.kind}:blue:smart`)).toBe(true);
    }
    const savings = recs.map((r) => r.estimatedMonthlySavingUsd);
    expect(savings).toEqual([...savings].sort((a, b) => b - a));
  });
});

describe("prompt fingerprint", () => {
  it("hashes the messages as sent, whatever else the body carries", () => {
    const messages = '[{"role":"user","content":"say \\"hi\\" [twice] {ok}"}]';
    const a = `{"model":"gpt-4o","messages":${messages},"user":"alice","stream":true}`;
    const b = `{"messages" : ${messages}, "model":"gpt-4o-mini","metadata":{"x":"y"}}`;
    expect(messagesSpan(a)).toBe(messages);
    expect(promptFingerprint(a)).toBe(promptFingerprint(b));
    expect(promptFingerprint(a)).not.toBe(promptFingerprint(a.replace("twice", "thrice")));
  });

  it("falls back to the whole body when it has no messages array, and to nothing for an empty one", () => {
    expect(messagesSpan('{"input":"x"}')).toBeUndefined();
    expect(promptFingerprint('{"input":"x"}')).toMatch(/^[A-Za-z0-9_-]{27}$/);
    expect(promptFingerprint("")).toBeUndefined();
  });
});

describe("the usage record", () => {
  const deployment = { id: "openai/gpt-4o", provider: { type: "openai" }, upstreamModel: "gpt-4o", region: undefined };
  function recorded(endpoint: "chat" | "embeddings", served: boolean): UsageRecord {
    const records: UsageRecord[] = [];
    const ledger = { record: (r: UsageRecord) => records.push(r) } as unknown as UsageLedger;
    const ctx = new RequestContext("req-1", endpoint, 0);
    ctx.alias = "smart";
    ctx.rawBody = '{"model":"smart","messages":[{"role":"user","content":"hi"}]}';
    ctx.costUsd = 0.01;
    if (served) ctx.deployment = deployment as unknown as Deployment;
    usageRecorder({} as CostEngine, ledger)(ctx);
    return records[0] as UsageRecord;
  }

  it("carries the prompt fingerprint of a chat call sent upstream, and none otherwise", () => {
    expect(recorded("chat", true).promptHash).toBe(promptFingerprint('{"messages":[{"role":"user","content":"hi"}]}'));
    expect(recorded("chat", false).promptHash).toBeUndefined();
    expect(recorded("embeddings", true).promptHash).toBeUndefined();
  });
});
