import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetStore } from "../../src/admin/budget-store.js";
import { KeyService } from "../../src/auth/service.js";
import { parseConfig } from "../../src/config/load.js";
import { MONTH_DAYS, type Recommendation } from "../../src/insights/recommendations.js";
import { createPricing, type Pricing } from "../../src/pricing/index.js";
import type { ProviderClient } from "../../src/providers/types.js";
import { buildRoutingTable } from "../../src/routing/table.js";
import { mountRecommendationsApi, type RecommendationsApiDeps } from "../../src/server/recommendations-api.js";
import type { Store } from "../../src/store/index.js";
import { listRecords, toRow, type UsageRecord } from "../../src/usage/index.js";
import { promptFingerprint } from "../../src/usage/prompt-hash.js";
import type { Json } from "../helpers/json.js";
import { BACKENDS, type Backend, makeBackend, migrateIn, usageRecord } from "./harness.js";

const MASTER = "master-secret-for-recommendations-0123";
const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);
const DAY = 86_400_000;

const ROUTES = `
providers:
  openai: { type: openai, api_key: sk-test }
  azure: { type: azure, base_url: "https://example.openai.azure.com", api_key: az-test, region: eastus }
models:
  smart:
    deployments: [{ provider: openai, model: gpt-4o }]
  mixed:
    deployments:
      - { provider: openai, model: gpt-4o }
      - { provider: azure, model: gpt-4o, price: { discount: 0.2 } }
  faq:
    deployments: [{ provider: openai, model: gpt-4o-mini }]
budgets:
  definitions:
    - { scope: team, id: blue, period: monthly, limit_usd: 1000 }
    - { scope: team, id: green, period: monthly, limit_usd: 20 }
`;

/** `n` calls spread over the last 29 days, each priced as the bundled database prices gpt-4o / gpt-4o-mini. */
function calls(n: number, fields: Partial<UsageRecord>, prompt: (i: number) => string | undefined = () => undefined) {
  const out: UsageRecord[] = [];
  const perMTok: Record<string, [number, number]> = {
    "openai/gpt-4o": [2.5, 10],
    "azure/gpt-4o": [2, 8], // 20% off in routes.yaml
    "openai/gpt-4o-mini": [0.15, 0.6],
  };
  for (let i = 0; i < n; i++) {
    const r = usageRecord({
      ts: NOW - DAY / 2 - Math.floor((i * 29 * DAY) / n),
      promptTokens: 2000,
      completionTokens: 500,
      ...fields,
    });
    const [input, output] = perMTok[r.deployment as string] as [number, number];
    r.actualCostUsd = (r.promptTokens * input + r.completionTokens * output) / 1e6;
    const text = prompt(i);
    if (text !== undefined)
      r.promptHash = promptFingerprint(`{"model":"faq","messages":[{"role":"user","content":"${text}"}]}`);
    out.push(r);
  }
  return out;
}

describe.each(BACKENDS)("GET /api/recommendations on %s", (backendName) => {
  let backend: Backend;
  let store: Store;
  let keys: KeyService;
  let pricing: Pricing;
  let priceDir: string;
  let app: Hono;
  const secrets: Record<string, string> = {};
  let idleKey = "";
  let deps: RecommendationsApiDeps;

  const get = async (token: string | null, query = "") => {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    const res = await app.request(`/api/recommendations${query}`, { headers });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const find = (data: Recommendation[], kind: string, alias?: string) =>
    data.find((r) => r.kind === kind && (alias === undefined || r.scope.alias === alias));

  beforeAll(async () => {
    backend = await makeBackend(backendName);
    store = backend.open();
    await migrateIn(backend, store);
    keys = new KeyService({ store });
    await keys.tenancy.createOrg({ id: "acme" });
    await keys.tenancy.createTeam({ id: "blue", orgId: "acme" });
    await keys.tenancy.createTeam({ id: "green", orgId: "acme" });
    const blue = await keys.createKey({ name: "blue app", teamId: "blue" });
    const blueSpare = await keys.createKey({ name: "blue spare", teamId: "blue" });
    const green = await keys.createKey({ name: "green app", teamId: "green" });
    secrets.blue = blue.key;
    secrets.green = green.key;
    idleKey = blueSpare.info.id;
    // A budget made through the admin API, on a key that never calls: idle.
    await new BudgetStore(store).create({
      scope: "key",
      id: idleKey,
      period: "daily",
      limit_usd: 5,
      level: "hard",
      warn_at: 0.8,
      drop_model_when_over: false,
    });

    const { config } = parseConfig(ROUTES, "routes.yaml", { env: {} });
    priceDir = await mkdtemp(join(tmpdir(), "tollgate-prices-"));
    pricing = await createPricing({
      files: ["pricing/models.yaml"],
      cacheDir: priceDir,
      deploymentOverrides: { "azure/gpt-4o": { discount: 0.2 } },
    });
    const client = (name: string, type: "openai" | "azure"): ProviderClient => ({
      name,
      type,
      chat: () => Promise.reject(new Error("no upstream calls here")),
      close: () => Promise.resolve(),
    });
    const table = buildRoutingTable(
      config,
      new Map([
        ["openai", client("openai", "openai")],
        ["azure", client("azure", "azure")],
      ]),
    );

    const blueCall = { keyId: blue.info.id, teamId: "blue", orgId: "acme" };
    const greenCall = { keyId: green.info.id, teamId: "green", orgId: "acme" };
    const openaiGpt4o = { provider: "openai", deployment: "openai/gpt-4o", upstreamModel: "gpt-4o", region: undefined };
    const azureGpt4o = { provider: "azure", deployment: "azure/gpt-4o", upstreamModel: "gpt-4o", region: "eastus" };
    const mini = {
      provider: "openai",
      deployment: "openai/gpt-4o-mini",
      upstreamModel: "gpt-4o-mini",
      region: undefined,
    };
    const records = [
      // Before the window: bounds how far back the ledger goes, counted nowhere.
      ...calls(1, { ...blueCall, alias: "smart", ...openaiGpt4o, ts: NOW - 60 * DAY }),
      // Blue: 1,000 gpt-4o calls at $0.01 on smart; 500 faq calls over 50 prompts (each asked 10 times).
      ...calls(1000, { ...blueCall, alias: "smart", ...openaiGpt4o }),
      ...calls(
        500,
        { ...blueCall, alias: "faq", ...mini, promptTokens: 20_000, completionTokens: 2000 },
        (i) => `q${i % 50}`,
      ),
      // Green: mixed split evenly between openai ($0.01) and azure ($0.008); faq asked blue's prompts once each.
      ...calls(1000, { ...greenCall, alias: "mixed", ...openaiGpt4o }),
      ...calls(1000, { ...greenCall, alias: "mixed", ...azureGpt4o }),
      ...calls(
        50,
        { ...greenCall, alias: "faq", ...mini, promptTokens: 20_000, completionTokens: 2000 },
        (i) => `q${i}`,
      ),
    ];
    await store.insertIgnoringDuplicates("usage_records", "request_id", records.map(toRow));

    app = new Hono();
    deps = { store, table, pricing, config, keys, masterKey: MASTER, now: () => NOW, memoMs: 0 };
    mountRecommendationsApi(app, deps);
  });
  afterAll(async () => {
    pricing?.stop();
    await keys?.close();
    await store?.close();
    await backend?.cleanup();
    await rm(priceDir, { recursive: true, force: true });
  });

  it("stores the prompt fingerprint with the usage record", async () => {
    const [faq] = await listRecords(store, { alias: "faq", teamId: "green" }, 1);
    expect(faq?.promptHash).toMatch(/^[A-Za-z0-9_-]{27}$/);
    const [smart] = await listRecords(store, { alias: "smart" }, 1);
    expect(smart?.promptHash).toBeUndefined();
  });

  it("gives the master key every kind over all teams, priced from the ledger, most saving first", async () => {
    const { status, json } = await get(MASTER);
    expect(status).toBe(200);
    expect(json.team).toBeNull();
    expect(json.window_days).toBe(30);
    const data = json.data as Recommendation[];
    const savings = data.map((r) => r.estimatedMonthlySavingUsd);
    expect(savings).toEqual([...savings].sort((a, b) => b - a));
    const factor = MONTH_DAYS / 30;

    // smart: 1,000 × (2,000 × $2.5 + 500 × $10) / 1M = $10 on gpt-4o; $0.60 on gpt-4o-mini (quality 1272 >= 1265).
    const model = find(data, "cheaper_model", "smart");
    expect(model?.scope).toEqual({ alias: "smart" });
    expect(model?.kind === "cheaper_model" && model.evidence.target).toMatchObject({
      provider: "openai",
      model: "gpt-4o-mini",
      servedByAliases: ["faq"],
    });
    expect(model?.estimatedMonthlySavingUsd).toBeCloseTo(9.4 * factor, 4);

    // The same model on the azure deployment (20% off) that alias mixed has: $8 instead of $10.
    const deployment = find(data, "cheaper_deployment", "smart");
    expect(deployment?.kind === "cheaper_deployment" && deployment.evidence.target.deployment).toBe("azure/gpt-4o");
    expect(deployment?.estimatedMonthlySavingUsd).toBeCloseTo(2 * factor, 4);

    // mixed, weighted: $10 + $8 today; strategy cost sends all 2,000 calls to azure: $16.
    const routing = find(data, "routing_strategy", "mixed");
    expect(routing?.kind === "routing_strategy" && routing.evidence.costStrategyUsd).toBeCloseTo(16, 6);
    expect(routing?.estimatedMonthlySavingUsd).toBeCloseTo(2 * factor, 4);

    // faq: blue's 450 repeats (green's copies of blue's prompts are another team's cache namespace).
    const cache = find(data, "cache", "faq");
    if (cache?.kind !== "cache") throw new Error("expected a cache recommendation");
    expect(cache.evidence).toMatchObject({ requests: 550, repeatedRequests: 450, repeatedPrompts: 50 });
    const perCall = (20_000 * 0.15 + 2000 * 0.6) / 1e6;
    expect(cache.evidence.repeatedSpendUsd).toBeCloseTo(450 * perCall, 6);
    expect(cache.estimatedMonthlySavingUsd).toBeCloseTo(
      450 * perCall * 0.7 * (MONTH_DAYS / cache.evidence.windowDays),
      4,
    );

    // Idle: blue's $1,000 and the spare key's $5 a day; green spent ~$18 of $20, not idle.
    const idle = data.filter((r) => r.kind === "idle_budget");
    expect(idle.map((r) => r.scope)).toEqual(
      expect.arrayContaining([{ teamId: "blue" }, { teamId: "blue", keyId: idleKey }]),
    );
    expect(idle).toHaveLength(2);
    expect(data.slice(-2).every((r) => r.kind === "idle_budget")).toBe(true);
  });

  it("gives a team key its own team's recommendations only", async () => {
    const blue = (await get(secrets.blue as string)).json;
    expect(blue.team).toBe("blue");
    const data = blue.data as Recommendation[];
    expect(data.every((r) => r.scope.teamId === "blue")).toBe(true);
    expect(data.map((r) => `${r.kind}:${r.scope.alias ?? r.scope.keyId ?? ""}`).sort()).toEqual(
      ["cache:faq", "cheaper_deployment:smart", "cheaper_model:smart", `idle_budget:${idleKey}`, "idle_budget:"].sort(),
    );
    const cache = find(data, "cache", "faq");
    expect(cache?.kind === "cache" && cache.evidence.requests).toBe(500);

    const green = (await get(secrets.green as string)).json.data as Recommendation[];
    expect(green.every((r) => r.scope.teamId === "green")).toBe(true);
    // mixed's cheaper copy of gpt-4o is its own azure deployment: a routing change, not a cheaper deployment.
    expect(green.map((r) => r.kind).sort()).toEqual(["cheaper_model", "routing_strategy"]);
    expect(find(green, "cache")).toBeUndefined(); // each of green's prompts came once
  });

  it("lets the master key narrow to one team, and refuses a team key another team's", async () => {
    const narrowed = await get(MASTER, "?team=green");
    const own = await get(secrets.green as string);
    expect(narrowed.json).toEqual(own.json);
    const denied = await get(secrets.green as string, "?team=blue");
    expect(denied.status).toBe(403);
    expect(denied.json.error).toMatchObject({ type: "permission_error", code: "team_forbidden", param: "team" });
  });

  it("reuses an answer for a minute, then sees new traffic", async () => {
    let now = NOW;
    const memoized = new Hono();
    mountRecommendationsApi(memoized, { ...deps, now: () => now, memoMs: undefined });
    const smartCalls = async () => {
      const res = await memoized.request("/api/recommendations?team=blue", {
        headers: { authorization: `Bearer ${MASTER}` },
      });
      const data = ((await res.json()) as Json).data as Recommendation[];
      const rec = find(data, "cheaper_model", "smart");
      return rec?.kind === "cheaper_model" ? rec.evidence.requests : undefined;
    };
    expect(await smartCalls()).toBe(1000);
    const more = calls(10, {
      keyId: "key-x",
      teamId: "blue",
      orgId: "acme",
      alias: "smart",
      provider: "openai",
      deployment: "openai/gpt-4o",
      upstreamModel: "gpt-4o",
    });
    await store.insertIgnoringDuplicates("usage_records", "request_id", more.map(toRow));
    now += 30_000;
    expect(await smartCalls()).toBe(1000);
    now += 31_000;
    expect(await smartCalls()).toBe(1010);
    await store.db.deleteFrom("usage_records").where("key_id", "=", "key-x").execute();
  });

  it("answers OpenAI-style errors for a missing or wrong key and an unknown parameter", async () => {
    const none = await get(null);
    expect([none.status, none.json.error.type]).toEqual([401, "invalid_request_error"]);
    const wrong = await get("tg-not-a-real-key-0000000000");
    expect([wrong.status, wrong.json.error.code]).toEqual([401, "invalid_api_key"]);
    const bad = await get(MASTER, "?kind=cache");
    expect([bad.status, bad.json.error.param]).toEqual([400, "kind"]);
  });
});
