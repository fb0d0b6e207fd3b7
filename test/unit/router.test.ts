import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { ModelInfo } from "../../src/pricing/index.js";
import type { ProviderClient } from "../../src/providers/types.js";
import { DeploymentHealth } from "../../src/resilience/health.js";
import { Router, type RoutingRequest } from "../../src/routing/router.js";
import { buildRoutingTable } from "../../src/routing/table.js";

const client = (name: string, type: string): ProviderClient =>
  ({ name, type, chat: async () => ({}), close: async () => {} }) as unknown as ProviderClient;

function router(): Router {
  const { config } = parseConfig(
    `
providers:
  oa: { type: openai, api_key: x }
  an: { type: anthropic, api_key: x }
  ge: { type: gemini, api_key: x }
models:
  chat:
    deployments:
      - { provider: oa, model: gpt-4o }
      - { provider: an, model: claude-sonnet }
      - { provider: ge, model: gemini-flash }
`,
    "routes.yaml",
  );
  const clients = new Map([
    ["oa", client("oa", "openai")],
    ["an", client("an", "anthropic")],
    ["ge", client("ge", "gemini")],
  ]);
  const table = buildRoutingTable(config, clients);
  const capabilities: Record<string, ModelInfo["capabilities"]> = {
    "gpt-4o": { tools: true, vision: true, jsonMode: true },
    "claude-sonnet": { tools: true, vision: true, jsonMode: false },
    "gemini-flash": { tools: false, vision: true },
  };
  return new Router({
    table,
    config,
    health: new DeploymentHealth(),
    modelInfo: (d) => ({ capabilities: capabilities[d.upstreamModel] ?? {} }) as ModelInfo,
  });
}

function request(over: Partial<RoutingRequest> = {}): RoutingRequest {
  return {
    estimate: () => ({ promptTokens: 10, costUsd: 0.001 }),
    maxCompletionTokens: 10,
    needs: { tools: false, vision: false, jsonMode: false },
    region: undefined,
    maxCostUsd: undefined,
    strategy: undefined,
    droppedProviders: undefined,
    latencyTargets: undefined,
    ...over,
  };
}

const ids = (r: Router, req: RoutingRequest) => new Set(r.plan("chat", req)?.ordered.map((d) => d.id));

describe("Router eligibility", () => {
  it("leaves out deployments without what the request needs: tools, JSON mode", () => {
    const r = router();
    expect(ids(r, request({ needs: { tools: true, vision: false, jsonMode: false } }))).toEqual(
      new Set(["oa/gpt-4o", "an/claude-sonnet"]),
    );
    const plan = r.plan("chat", request({ needs: { tools: true, vision: true, jsonMode: true } }));
    expect(plan?.ordered.map((d) => d.id)).toEqual(["oa/gpt-4o"]);
    expect(plan?.excluded).toEqual([
      { id: "an/claude-sonnet", why: "no JSON mode", kind: "capability" },
      { id: "ge/gemini-flash", why: "no tool calling", kind: "capability" },
    ]);
  });

  it("drops the providers a spent drop_model_when_over guardrail names", () => {
    const r = router();
    const plan = r.plan("chat", request({ droppedProviders: new Set(["openai"]) }));
    expect(new Set(plan?.ordered.map((d) => d.id))).toEqual(new Set(["an/claude-sonnet", "ge/gemini-flash"]));
    expect(plan?.excluded[0]).toMatchObject({ id: "oa/gpt-4o", kind: "guardrail" });
  });

  it("steps a deployment over its latency target aside, unless nothing else could serve", () => {
    const r = router();
    for (let i = 0; i < 5; i++) {
      r.latency.start("oa/gpt-4o");
      r.latency.end("oa/gpt-4o", 900, true);
      r.latency.start("an/claude-sonnet");
      r.latency.end("an/claude-sonnet", 100, true);
    }
    const targets = new Map([
      ["openai", 500],
      ["anthropic", 500],
    ]);
    expect(ids(r, request({ latencyTargets: targets })).has("oa/gpt-4o")).toBe(false);
    // Every measured one over its target: none steps aside.
    const all = new Map([
      ["openai", 50],
      ["anthropic", 50],
      ["gemini", 50],
    ]);
    const r2 = router();
    for (const id of ["oa/gpt-4o", "an/claude-sonnet", "ge/gemini-flash"]) {
      r2.latency.start(id);
      r2.latency.end(id, 900, true);
    }
    expect(ids(r2, request({ latencyTargets: all })).size).toBe(3);
  });
});
