// What the route + resilience stages cost per request, in this process: the same three-deployment alias through
// the plain core path (weighted pick, one call) and through routing (rules, eligibility, strategy, health,
// attempt bookkeeping), against a provider that answers at once, so only the stages' own work differs.
// Run alone with `npx tsx bench/routing.ts`; bench/run.ts includes it.
import { fileURLToPath } from "node:url";
import { parseConfig } from "../src/config/load.js";
import type { ChatCompletionRequest } from "../src/openai/schema.js";
import { RequestContext } from "../src/pipeline/context.js";
import { buildPipeline, type Pipeline } from "../src/pipeline/index.js";
import type { Pricing } from "../src/pricing/index.js";
import type { ProviderClient, UpstreamResult } from "../src/providers/types.js";
import { createRouting } from "../src/routing/setup.js";
import { buildRoutingTable } from "../src/routing/table.js";

export interface RoutingBenchFigures {
  /** µs per request through route + call (the core path), and through route + resilience, per strategy. */
  coreUs: number;
  routedUs: Record<string, number>;
}

const ANSWER: UpstreamResult = { status: 200, body: "{}", stream: false, headers: undefined };

function client(name: string): ProviderClient {
  return { name, type: "openai-compatible", chat: async () => ANSWER, close: async () => {} };
}

const YAML = (strategy: string) => `
providers:
  a: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }
  b: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }
  c: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }
models:
  chat:
    strategy: ${strategy}
    deployments:
      - { provider: a, model: gpt-4o-mini }
      - { provider: b, model: gpt-4o-mini }
      - { provider: c, model: gpt-4o-mini }
rules:
  - { name: deny-batch, when: { headers: { x-job: batch } }, then: { deny: {} } }
`;

const CHAT = { model: "chat", messages: [{ role: "user", content: "hi" }] } as ChatCompletionRequest;

async function perRequestUs(pipeline: Pipeline, n: number): Promise<number> {
  const one = async () => {
    const ctx = new RequestContext("bench", "chat", performance.now());
    ctx.chat = CHAT;
    ctx.alias = "chat";
    await pipeline.run(ctx);
    ctx.finish("completed");
  };
  for (let i = 0; i < 5_000; i++) await one();
  const start = performance.now();
  for (let i = 0; i < n; i++) await one();
  return ((performance.now() - start) * 1000) / n;
}

export async function runRoutingBench(n = 100_000): Promise<RoutingBenchFigures> {
  const clients = new Map(["a", "b", "c"].map((name) => [name, client(name)]));
  const pricing = { model: () => undefined } as unknown as Pricing;
  const core = buildPipeline({ table: buildRoutingTable(parseConfig(YAML("weighted"), "bench").config, clients) });
  const coreUs = await perRequestUs(core, n);
  const routedUs: Record<string, number> = {};
  for (const strategy of ["weighted", "latency", "cost", "adaptive"]) {
    const config = parseConfig(YAML(strategy), "bench").config;
    const table = buildRoutingTable(config, clients);
    const routing = await createRouting({ config, table, pricing, redisUrl: undefined, timezone: "UTC" });
    const pipeline = buildPipeline({
      table,
      routing: {
        router: routing.router,
        rules: routing.rules,
        resilience: config.resilience,
        regionHeader: config.routing.region_header,
        defaultRegion: undefined,
      },
    });
    routedUs[strategy] = await perRequestUs(pipeline, n);
    await routing.close();
  }
  return { coreUs, routedUs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const f = await runRoutingBench();
  console.log(`core path (route + call): ${f.coreUs.toFixed(2)} µs/request`);
  for (const [s, us] of Object.entries(f.routedUs)) {
    console.log(`route + resilience, ${s}: ${us.toFixed(2)} µs/request (adds ${(us - f.coreUs).toFixed(2)} µs)`);
  }
}
