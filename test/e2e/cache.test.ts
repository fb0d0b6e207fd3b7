import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../../src/auth/key-format.js";
import { listRecords } from "../../src/usage/index.js";
import { eventually, postOpen, startGateway, type TestGateway } from "../helpers/gateway.js";
import { semanticRoutes } from "../helpers/routes.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

// The exact cache tier through the HTTP API and the official SDK, against the OpenAI mock over real HTTP.

const RUN = randomBytes(3).toString("hex");
const REDIS_URL = "redis://127.0.0.1:6379";
const KEYS = { blue: generateKey(), red: generateKey() };
const gateways: TestGateway[] = [];
let upstream: OpenAIMock;

function routes(extra = ""): string {
  return `
providers:
  up: { type: openai-compatible, base_url: "${upstream.url}" }
models:
  chat:
    cache: { enabled: true }
    deployments: [{ provider: up, model: gpt-4o-mini }]
  cut:
    cache: { enabled: true }
    deployments: [{ provider: up, model: mock-cut-stream }]
  chat2:
    cache: { enabled: true }
    deployments: [{ provider: up, model: gpt-4o-mini }]
  nocache:
    deployments: [{ provider: up, model: gpt-4o-mini }]
auth:
  orgs: [{ id: o-${RUN} }]
  teams: [{ id: blue-${RUN}, org: o-${RUN} }, { id: red-${RUN}, org: o-${RUN} }]
  keys:
    - { id: kb-${RUN}, name: blue, team: blue-${RUN}, key_env: KEY_BLUE }
    - { id: kr-${RUN}, name: red, team: red-${RUN}, key_env: KEY_RED }
${extra}`;
}

async function gateway(env: NodeJS.ProcessEnv = {}, extra = ""): Promise<TestGateway> {
  const gw = await startGateway(routes(extra), { KEY_BLUE: KEYS.blue, KEY_RED: KEYS.red, ...env });
  gateways.push(gw);
  return gw;
}

const sdk = (gw: TestGateway, key = KEYS.blue) => new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 });

async function post(gw: TestGateway, body: object, headers: Record<string, string> = {}, key = KEYS.blue) {
  const res = await fetch(`${gw.origin}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const ask = (content: string, extra: object = {}) => ({
  model: "chat",
  temperature: 0,
  messages: [{ role: "user", content }],
  ...extra,
});

const calls = () => upstream.requests.filter((r) => r.path.endsWith("/chat/completions")).length;

beforeAll(async () => {
  upstream = await startOpenAIMock();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await upstream.close();
});

describe("exact cache tier", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await gateway();
  });

  it("answers the same request from the cache: no upstream call, cost 0, the saving in the usage record", async () => {
    const body = ask(`capital of France? ${RUN}`);
    const first = await post(gw, body, { "x-request-id": `c1-${RUN}` });
    expect(first.headers.get("x-tollgate-cache")).toBe("miss");
    const before = calls();
    const second = await post(gw, body, { "x-request-id": `c2-${RUN}` });
    expect(second.status).toBe(200);
    expect(second.headers.get("x-tollgate-cache")).toBe("hit");
    expect(second.headers.get("x-tollgate-deployment")).toBe("cache");
    expect(calls()).toBe(before);
    const a = JSON.parse(first.text);
    const b = JSON.parse(second.text);
    expect(b.choices).toEqual(a.choices);
    expect(a.usage.cost).toBeGreaterThan(0);
    expect(b.usage.cost).toBe(0);
    await eventually(async () => {
      await gw.gateway.services.ledger.flush();
      const records = await listRecords(gw.gateway.services.store, {}, 50);
      const hit = records.find((r) => r.requestId === `c2-${RUN}`);
      expect(hit).toMatchObject({ cacheDecision: "hit", actualCostUsd: 0 });
      expect(hit?.savedCostUsd).toBeCloseTo(a.usage.cost, 12);
      expect(records.find((r) => r.requestId === `c1-${RUN}`)?.cacheDecision).toBe("miss");
    });
  });

  it("replays a cached answer as a stream the openai SDK reads exactly as the original, tool calls included", async () => {
    const client = sdk(gw);
    const tools = [{ type: "function" as const, function: { name: "weather", parameters: { type: "object" } } }];
    const request = {
      model: "chat",
      temperature: 0,
      messages: [{ role: "user" as const, content: `weather? ${RUN}` }],
      tools,
    };
    const original = await client.chat.completions.create(request); // JSON, stored
    const before = calls();
    const replay = await client.chat.completions.stream({ ...request, stream_options: { include_usage: true } });
    const final = await replay.finalChatCompletion();
    expect(calls()).toBe(before);
    expect(final.choices[0]?.message.tool_calls).toEqual(original.choices[0]?.message.tool_calls);
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(final.usage?.prompt_tokens).toBe(original.usage?.prompt_tokens);

    // A streamed original is stored too, and answers a later JSON request.
    const streamed = await client.chat.completions.create({ ...ask(`stream me ${RUN}`), stream: true } as never);
    let text = "";
    for await (const chunk of streamed as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      text += chunk.choices[0]?.delta.content ?? "";
    }
    const beforeJson = calls();
    const json = await client.chat.completions.create(ask(`stream me ${RUN}`) as never);
    expect(calls()).toBe(beforeJson);
    expect((json as OpenAI.ChatCompletion).choices[0]?.message.content).toBe(text);
  });

  it("never shares answers between two teams", async () => {
    const body = ask(`team secret ${RUN}`);
    await post(gw, body, {}, KEYS.blue);
    expect((await post(gw, body, {}, KEYS.blue)).headers.get("x-tollgate-cache")).toBe("hit");
    expect((await post(gw, body, {}, KEYS.red)).headers.get("x-tollgate-cache")).toBe("miss");
  });

  it("obeys Cache-Control no-cache (skip the lookup, store) and no-store (neither), and bypasses varying requests", async () => {
    const body = ask(`control ${RUN}`);
    expect((await post(gw, body, { "cache-control": "no-store" })).headers.get("x-tollgate-cache")).toBe("bypass");
    expect((await post(gw, body)).headers.get("x-tollgate-cache")).toBe("miss");
    expect((await post(gw, body, { "cache-control": "no-cache" })).headers.get("x-tollgate-cache")).toBe("miss");
    expect((await post(gw, body)).headers.get("x-tollgate-cache")).toBe("hit");
    // Unset temperature is OpenAI's default of 1: the answer varies, so it is not cached.
    const varying = { model: "chat", messages: [{ role: "user", content: `vary ${RUN}` }] };
    expect((await post(gw, varying)).headers.get("x-tollgate-cache")).toBe("bypass");
    // An alias without the cache is untouched.
    expect((await post(gw, { ...body, model: "nocache" })).headers.get("x-tollgate-cache")).toBeNull();
  });

  it("expires an answer after x-tollgate-cache-ttl seconds", async () => {
    const body = ask(`ttl ${RUN}`);
    await post(gw, body, { "x-tollgate-cache-ttl": "1" });
    expect((await post(gw, body)).headers.get("x-tollgate-cache")).toBe("hit");
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await post(gw, body)).headers.get("x-tollgate-cache")).toBe("miss");
    const bad = await post(gw, body, { "x-tollgate-cache-ttl": "soon" });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.code).toBe("invalid_cache_ttl");
  });

  it("does not store a stream cut short", async () => {
    const body = { ...ask(`cut ${RUN}`), model: "cut", stream: true };
    const first = await post(gw, body);
    expect(first.text).toContain("error");
    const second = await post(gw, body);
    expect(second.headers.get("x-tollgate-cache")).toBe("miss");
  });

  it("reports lookups by tier and result, the saving, and what the tier holds in /metrics", async () => {
    const fresh = await gateway();
    const body = ask(`counted ${RUN}`);
    await post(fresh, body); // miss, stored
    await post(fresh, body); // hit
    await post(fresh, body); // hit
    await post(fresh, body, { "cache-control": "no-store" }); // bypass
    await eventually(async () => {
      const text = await (await fetch(`${fresh.origin}/metrics`)).text();
      const value = (series: string) => Number(new RegExp(`^${series} (\\S+)$`, "m").exec(text)?.[1]);
      expect(value('tollgate_cache_requests_total{tier="exact",result="hit"}')).toBe(2);
      expect(value('tollgate_cache_requests_total{tier="exact",result="miss"}')).toBe(1);
      expect(value('tollgate_cache_requests_total{tier="exact",result="bypass"}')).toBe(1);
      // Each hit saved the original call: 11 prompt + 7 completion tokens of gpt-4o-mini, twice.
      expect(value("tollgate_cache_saved_usd_total")).toBeCloseTo(2 * 0.00000585, 12);
      expect(value("tollgate_cache_saved_seconds_total")).toBeGreaterThan(0);
      expect(value('tollgate_cache_entries{tier="memory"}')).toBe(1);
      expect(value('tollgate_cache_bytes{tier="memory"}')).toBeGreaterThan(100);
      expect(value('tollgate_cache_evictions{tier="memory"}')).toBe(0);
    });
  });

  it("counts each alias's hits under that alias in /metrics (a hit has no deployment)", async () => {
    for (const model of ["chat", "chat2"]) {
      const body = { ...ask(`metrics ${RUN}`), model };
      await post(gw, body);
      expect((await post(gw, body)).headers.get("x-tollgate-cache")).toBe("hit");
    }
    await eventually(async () => {
      const text = await (await fetch(`${gw.origin}/metrics`)).text();
      for (const alias of ["chat", "chat2"]) {
        expect(text).toMatch(
          new RegExp(
            `tollgate_requests_total\\{endpoint="chat",alias="${alias}",deployment="none",status="200",outcome="completed"\\} [1-9]`,
          ),
        );
        expect(text).toMatch(
          new RegExp(
            `tollgate_request_duration_seconds_count\\{endpoint="chat",alias="${alias}",deployment="none"\\} [1-9]`,
          ),
        );
      }
    });
  });
});

describe("exact cache tier shared through Redis", () => {
  it("answers on one replica what another stored", async () => {
    const [a, b] = [await gateway({ REDIS_URL }), await gateway({ REDIS_URL })];
    const body = ask(`shared ${RUN}`);
    expect((await post(a, body)).headers.get("x-tollgate-cache")).toBe("miss");
    const before = calls();
    await eventually(async () => {
      expect((await post(b, body)).headers.get("x-tollgate-cache")).toBe("hit");
    });
    expect(calls()).toBe(before);
  });
});

describe("semantic cache tier", () => {
  const semAsk = (content: string, system = "You answer geography questions.") => ({
    model: "sem",
    temperature: 0,
    messages: [
      { role: "system", content: system },
      { role: "user", content },
    ],
  });

  it("answers a near-duplicate prompt from the cache, and refuses one that differs in a fact", async () => {
    const gw = await startGateway(semanticRoutes(upstream.url, 0));
    gateways.push(gw);
    const ask = (body: object) => postOpen(gw, body);
    expect((await ask(semAsk(`What is the capital of France? ${RUN}`))).headers.get("x-tollgate-cache")).toBe("miss");
    const before = calls();
    const near = await ask(semAsk(`what is the capital of france ${RUN}`));
    expect(near.status).toBe(200);
    expect(near.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect(Number(near.headers.get("x-tollgate-cache-similarity"))).toBeGreaterThan(0.7);
    expect(calls()).toBe(before);
    // Another number, another system prompt: never the same answer.
    await ask(semAsk(`How far is it from Paris to Lyon in km, 12 or 13? ${RUN}`));
    expect(
      (await ask(semAsk(`How far is it from Paris to Lyon in km, 12 or 14? ${RUN}`))).headers.get("x-tollgate-cache"),
    ).toBe("miss");
    expect(
      (await ask(semAsk(`what is the capital of france ${RUN}`, "You answer in French."))).headers.get(
        "x-tollgate-cache",
      ),
    ).toBe("miss");
  });

  it("embeds through one of the gateway's own aliases when configured, guards still applying", async () => {
    const gw = await startGateway(`
providers:
  up: { type: openai-compatible, base_url: "${upstream.url}" }
models:
  sem:
    cache: { enabled: true, semantic: true }
    deployments: [{ provider: up, model: gpt-4o-mini }]
  embed:
    deployments: [{ provider: up, model: text-embedding-3-small }]
cache:
  semantic: { verify_share: 0, threshold: 0.9, embedder: { alias: embed, dimensions: 4 } }
`);
    gateways.push(gw);
    const embeddings = () => upstream.requests.filter((r) => r.path.endsWith("/embeddings")).length;
    const ask = (content: string) => postOpen(gw, semAsk(content));
    const before = embeddings();
    expect((await ask(`Name the longest river in Africa. ${RUN}`)).headers.get("x-tollgate-cache")).toBe("miss");
    expect(embeddings()).toBe(before + 1);
    const near = await ask(`name the longest river in africa ${RUN}`);
    expect(near.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect(embeddings()).toBe(before + 2);
    // The mock embeds everything alike: only the guards tell these apart, and they do.
    expect((await ask(`Name the 2 longest rivers in Africa. ${RUN}`)).headers.get("x-tollgate-cache")).toBe("miss");
    // The embedding calls are in the usage ledger like any other.
    await eventually(async () => {
      await gw.gateway.services.ledger.flush();
      const records = await listRecords(gw.gateway.services.store, {}, 50);
      expect(records.filter((r) => r.endpoint === "embeddings" && r.alias === "embed").length).toBe(3);
    });
  });

  it("keeps its entries across a restart (persisted in the store, rebuilt at start)", async () => {
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "tollgate-semantic-"));
    const first = await startGateway(semanticRoutes(upstream.url, 0), { TOLLGATE_DATA_DIR: dir });
    const ask = (gw: TestGateway, content: string) => postOpen(gw, semAsk(content));
    expect((await ask(first, `Who painted the Mona Lisa? ${RUN}`)).headers.get("x-tollgate-cache")).toBe("miss");
    await new Promise((r) => setTimeout(r, 100)); // the entry is written after the answer
    await first.close();
    const second = await startGateway(semanticRoutes(upstream.url, 0), { TOLLGATE_DATA_DIR: dir });
    gateways.push(second);
    const before = calls();
    const again = await ask(second, `who painted the mona lisa ${RUN}`);
    expect(again.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect(calls()).toBe(before);
  });

  it("verifies a share of would-be hits upstream, and counts a disagreeing answer in the false-hit estimate", async () => {
    let n = 0;
    const { createServer } = await import("node:http");
    const varying = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        n++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${n}`,
            object: "chat.completion",
            created: 1_700_000_000,
            model: "gpt-4o-mini",
            choices: [
              {
                index: 0,
                message: { role: "assistant", content: `answer number ${n} ${"x".repeat(n * 7)}`, refusal: null },
                finish_reason: "stop",
                logprobs: null,
              },
            ],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          }),
        );
      });
    });
    await new Promise<void>((r) => varying.listen(0, "127.0.0.1", r));
    const port = (varying.address() as { port: number }).port;
    const gw = await startGateway(semanticRoutes(`http://127.0.0.1:${port}/v1`, 1));
    gateways.push(gw);
    try {
      const ask = (content: string) => postOpen(gw, semAsk(content));
      await ask(`Which river runs through Paris? ${RUN}`);
      const verified = await ask(`which river runs through paris ${RUN}`);
      // Verified, not served: the upstream answered, and its answer differs from the cached one.
      expect(verified.headers.get("x-tollgate-cache")).toBe("miss");
      expect(n).toBe(2);
      await eventually(async () => {
        const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
        const rate = Number(/tollgate_cache_estimated_false_hit_rate ([\d.e-]+)/.exec(metrics)?.[1]);
        expect(rate).toBeGreaterThan(0);
      });
    } finally {
      await new Promise<void>((r) => varying.close(() => r()));
    }
  });
});
