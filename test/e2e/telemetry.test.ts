import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateKey } from "../../src/auth/key-format.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { type AnthropicMock, startAnthropicMock } from "../mocks/anthropic.js";
import { type BedrockMock, startBedrockMock } from "../mocks/bedrock.js";
import { type GeminiMock, startGeminiMock } from "../mocks/gemini.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

// The OpenTelemetry GenAI metrics on /metrics and the spans of a traced gateway, against the fake upstreams
// of every provider type.

const KEY_A = generateKey();
const KEY_B = generateKey();
const ENV = { KEY_A, KEY_B, AWS_SECRET: "secret", TOLLGATE_MASTER_KEY: generateKey() };

let openai: OpenAIMock;
let anthropic: AnthropicMock;
let gemini: GeminiMock;
let bedrock: BedrockMock;
let plain: TestGateway;
let traced: TestGateway;
const spans = new InMemorySpanExporter();

const routes = (extra = "") => `
providers:
  oai: { type: openai, base_url: ${openai.url}, api_key: sk-test }
  azure-east: { type: azure, base_url: http://127.0.0.1:${openai.port}, api_key: az-key, api_version: 2024-10-21 }
  claude: { type: anthropic, base_url: ${anthropic.url}, api_key: ant-key }
  google: { type: gemini, base_url: ${gemini.url}, api_key: g-key }
  aws:
    type: bedrock
    region: us-east-1
    base_url: ${bedrock.url}
    aws:
      access_key_id: TESTKEYIDNOTREAL
      secret_access_key: \${AWS_SECRET}
models:
  gpt:
    deployments: [{ provider: oai, model: gpt-4o-mini, price: { input_per_mtok: 1, output_per_mtok: 2 } }]
  azure-gpt: { deployments: [{ provider: azure-east, model: gpt4o-prod }] }
  sonnet: { deployments: [{ provider: claude, model: claude-sonnet-4-5 }] }
  flash: { deployments: [{ provider: google, model: gemini-2.0-flash }] }
  haiku: { deployments: [{ provider: aws, model: "anthropic.claude-3-haiku-20240307-v1:0" }] }
  embed: { deployments: [{ provider: oai, model: text-embedding-3-small }] }
  flaky:
    fallbacks: { general: [gpt] }
    deployments: [{ provider: oai, model: mock-500 }]
resilience:
  retry: { base_ms: 1 }
auth:
  orgs: [{ id: acme }]
  teams: [{ id: search, org: acme }, { id: ads, org: acme }]
  keys:
    - { id: key-a, name: a, team: search, key_env: KEY_A }
    - { id: key-b, name: b, team: ads, key_env: KEY_B }
${extra}`;

beforeAll(async () => {
  [openai, anthropic, gemini, bedrock] = await Promise.all([
    startOpenAIMock({ chunks: 4 }),
    startAnthropicMock(),
    startGeminiMock(),
    startBedrockMock(),
  ]);
  [plain, traced] = await Promise.all([
    // Tracing off; spend by org and team only, and at most one such label set.
    startGateway(routes("metrics: { spend_labels: [org, team], max_spend_series: 1 }"), ENV),
    startGateway(routes(), ENV, { spanProcessors: [new SimpleSpanProcessor(spans)] }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.close(), traced?.close()]);
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close(), bedrock?.close()]);
});

interface Usage {
  prompt_tokens: number;
  completion_tokens?: number;
}

async function call(
  gw: TestGateway,
  body: Record<string, unknown>,
  key = KEY_A,
  headers: Record<string, string> = {},
  path = "chat/completions",
) {
  const res = await fetch(`${gw.baseURL}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as { usage: Usage } };
}

const chat = (gw: TestGateway, model: string, extra: Record<string, unknown> = {}, key = KEY_A) =>
  call(gw, { model, messages: [{ role: "user", content: "Hello" }], ...extra }, key);

/** The value of the one sample of `name` with exactly these labels; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const found: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const same = Object.keys(have).length === Object.keys(labels).length;
    if (same && Object.entries(labels).every(([k, v]) => have[k] === v)) found.push(Number(m[3]));
  }
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0];
}

const scrape = async (gw: TestGateway) => (await fetch(`${gw.origin}/metrics`)).text();

const genAi = (provider: string, model: string, operation = "chat") => ({
  gen_ai_operation_name: operation,
  gen_ai_provider_name: provider,
  gen_ai_request_model: model,
});

describe("GenAI metrics on /metrics (OpenTelemetry v1.41 names, Prometheus form)", () => {
  const cases = [
    { alias: "gpt", provider: "openai", model: "gpt-4o-mini" },
    { alias: "azure-gpt", provider: "azure.ai.openai", model: "gpt4o-prod" },
    { alias: "sonnet", provider: "anthropic", model: "claude-sonnet-4-5" },
    { alias: "flash", provider: "gcp.gemini", model: "gemini-2.0-flash" },
    { alias: "haiku", provider: "aws.bedrock", model: "anthropic.claude-3-haiku-20240307-v1:0" },
  ];

  it("records token usage and operation duration per provider, the tokens as the upstream reported them", async () => {
    const usages = new Map<string, Usage>();
    for (const c of cases) {
      const res = await chat(plain, c.alias);
      expect(res.status, res.text).toBe(200);
      usages.set(c.alias, res.json().usage);
    }
    let text = "";
    await eventually(async () => {
      text = await scrape(plain);
      expect(text).toContain('gen_ai_provider_name="aws.bedrock"');
    });
    expect(text).toContain("# TYPE gen_ai_client_token_usage histogram");
    expect(text).toContain("# TYPE gen_ai_client_operation_duration_seconds histogram");
    expect(text).toContain("# TYPE gen_ai_server_time_to_first_token_seconds histogram");
    for (const c of cases) {
      const usage = usages.get(c.alias) as Usage;
      const labels = genAi(c.provider, c.model);
      const input = { ...labels, gen_ai_token_type: "input" };
      const output = { ...labels, gen_ai_token_type: "output" };
      expect(sample(text, "gen_ai_client_token_usage_sum", input), c.alias).toBe(usage.prompt_tokens);
      expect(sample(text, "gen_ai_client_token_usage_count", input), c.alias).toBe(1);
      expect(sample(text, "gen_ai_client_token_usage_sum", output), c.alias).toBe(usage.completion_tokens);
      expect(sample(text, "gen_ai_client_token_usage_bucket", { ...input, le: "+Inf" })).toBe(1);
      expect(sample(text, "gen_ai_client_operation_duration_seconds_count", labels), c.alias).toBe(1);
    }
    // The mocks' own counts: OpenAI 11 + 7; Bedrock 11 input + 4 cache-read (OpenAI counts both as prompt) + 7.
    expect(usages.get("gpt")).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
    expect(usages.get("haiku")).toMatchObject({ prompt_tokens: 15, completion_tokens: 7 });
    // The advised bucket boundaries.
    expect(text).toMatch(/gen_ai_client_token_usage_bucket\{[^}]*le="67108864"\} 1/);
    expect(text).toMatch(/gen_ai_client_operation_duration_seconds_bucket\{[^}]*le="81.92"\}/);
  });

  it("records time to first token for a stream, and an embeddings call under its own operation", async () => {
    const stream = await chat(plain, "gpt", { stream: true, stream_options: { include_usage: true } });
    expect(stream.status).toBe(200);
    const embed = await call(plain, { model: "embed", input: "hello" }, KEY_A, {}, "embeddings");
    expect(embed.status, embed.text).toBe(200);
    await eventually(async () => {
      const text = await scrape(plain);
      expect(sample(text, "gen_ai_server_time_to_first_token_seconds_count", genAi("openai", "gpt-4o-mini"))).toBe(1);
      const embeddings = genAi("openai", "text-embedding-3-small", "embeddings");
      expect(sample(text, "gen_ai_client_token_usage_sum", { ...embeddings, gen_ai_token_type: "input" })).toBe(5);
      expect(sample(text, "gen_ai_client_operation_duration_seconds_count", embeddings)).toBe(1);
      // The stream's output tokens: one per content chunk of the mock.
      expect(
        sample(text, "gen_ai_client_token_usage_sum", {
          ...genAi("openai", "gpt-4o-mini"),
          gen_ai_token_type: "output",
        }),
      ).toBe(7 + 4);
    });
  });

  it("gives a failed attempt its own duration series with error_type", async () => {
    const res = await chat(plain, "flaky");
    expect(res.status).toBe(200);
    await eventually(async () => {
      const text = await scrape(plain);
      const failed = { ...genAi("openai", "mock-500"), error_type: "500" };
      expect(sample(text, "gen_ai_client_operation_duration_seconds_count", failed)).toBe(1);
      expect(
        sample(text, "gen_ai_client_operation_duration_seconds_count", genAi("openai", "mock-500")),
      ).toBeUndefined();
    });
  });

  it("adds spend up by org, team, key, alias and provider, bounded as metrics.* says, with no end-user label", async () => {
    await chat(traced, "gpt", { user: "alice@example.com" });
    await chat(traced, "gpt", {}, KEY_B);
    const cost = (11 * 1 + 7 * 2) / 1e6;
    await eventually(async () => {
      const text = await scrape(traced);
      const a = { org: "acme", team: "search", key: "key-a", alias: "gpt", provider: "oai" };
      expect(sample(text, "tollgate_spend_usd_total", a)).toBeCloseTo(cost, 12);
      expect(sample(text, "tollgate_spend_usd_total", { ...a, team: "ads", key: "key-b" })).toBeCloseTo(cost, 12);
      expect(text).not.toContain("alice");
    });

    // spend_labels [org, team] and max_spend_series 1: no key label; the second team is "other".
    await chat(plain, "gpt", {}, KEY_B);
    await eventually(async () => {
      const text = await scrape(plain);
      const first = sample(text, "tollgate_spend_usd_total", {
        org: "acme",
        team: "search",
        alias: "gpt",
        provider: "oai",
      });
      expect(first).toBeGreaterThan(0);
      expect(
        sample(text, "tollgate_spend_usd_total", { org: "other", team: "other", alias: "gpt", provider: "oai" }),
      ).toBeCloseTo(cost, 12);
      expect(text).not.toMatch(/tollgate_spend_usd_total\{[^}]*key=/);
    });
  });
});

describe("traces through an in-memory exporter", () => {
  beforeEach(() => spans.reset());

  const finished = async (serverSpans: number) => {
    await eventually(() => {
      expect(spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(serverSpans);
    });
    return spans.getFinishedSpans();
  };
  const clientsOf = (all: ReadableSpan[], server: ReadableSpan) =>
    all.filter((s) => s.kind === SpanKind.CLIENT && s.parentSpanContext?.spanId === server.spanContext().spanId);

  it("opens a SERVER span per request and a CLIENT span per attempt, with the gen_ai and tollgate attributes", async () => {
    const res = await chat(traced, "gpt", { temperature: 0.2, max_tokens: 50 });
    expect(res.status).toBe(200);
    const all = await finished(1);
    const server = all.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    const [client, ...more] = clientsOf(all, server);
    expect(more).toHaveLength(0);
    expect(server.name).toBe("POST /v1/chat/completions");
    expect(server.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "gpt",
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 7,
      "tollgate.org": "acme",
      "tollgate.team": "search",
      "tollgate.key": "key-a",
      "tollgate.alias": "gpt",
      "tollgate.deployment": "oai/gpt-4o-mini",
      "tollgate.attempts": 1,
      "tollgate.outcome": "completed",
    });
    expect(server.attributes["tollgate.cost_usd"]).toBeCloseTo(25e-6, 12);

    expect(client?.name).toBe("chat gpt-4o-mini");
    expect(client?.spanContext().traceId).toBe(server.spanContext().traceId);
    expect(client?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.request.temperature": 0.2,
      "gen_ai.request.max_tokens": 50,
      "gen_ai.response.model": "gpt-4o-mini",
      "gen_ai.response.id": "chatcmpl-mock",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 7,
      "server.address": "127.0.0.1",
      "server.port": openai.port,
      "tollgate.deployment": "oai/gpt-4o-mini",
    });
    expect(client?.attributes["tollgate.cost_usd"]).toBeCloseTo(25e-6, 12);
    // No prompt or answer unless tracing.capture_content is on.
    for (const s of all) {
      for (const name of Object.keys(s.attributes)) expect(name).not.toMatch(/messages|system_instructions/);
    }
    // The upstream got the CLIENT span's context.
    const upstream = openai.requests.at(-1);
    expect(upstream?.headers.traceparent).toBe(
      `00-${client?.spanContext().traceId}-${client?.spanContext().spanId}-01`,
    );
  });

  it("gives each provider's CLIENT span its gen_ai.provider.name and carries the traceparent to every upstream", async () => {
    const cases = [
      { alias: "azure-gpt", provider: "azure.ai.openai", last: () => openai.requests.at(-1) },
      { alias: "sonnet", provider: "anthropic", last: () => anthropic.requests.at(-1) },
      { alias: "flash", provider: "gcp.gemini", last: () => gemini.requests.at(-1) },
      { alias: "haiku", provider: "aws.bedrock", last: () => bedrock.requests.at(-1) },
    ];
    for (const c of cases) {
      spans.reset();
      expect((await chat(traced, c.alias)).status).toBe(200);
      const all = await finished(1);
      const client = all.find((s) => s.kind === SpanKind.CLIENT) as ReadableSpan;
      expect(client.attributes["gen_ai.provider.name"], c.alias).toBe(c.provider);
      expect(client.attributes["gen_ai.usage.input_tokens"], c.alias).toBeGreaterThan(0);
      const { traceId, spanId } = client.spanContext();
      expect(c.last()?.headers.traceparent, c.alias).toBe(`00-${traceId}-${spanId}-01`);
    }
  });

  it("gives a retried request two CLIENT spans under one SERVER span, the failed one with error.type", async () => {
    expect((await chat(traced, "flaky")).status).toBe(200);
    const all = await finished(1);
    const server = all.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    const clients = clientsOf(all, server);
    expect(clients.map((s) => s.name)).toEqual(["chat mock-500", "chat gpt-4o-mini"]);
    expect(clients[0]?.attributes["error.type"]).toBe("500");
    expect(clients[0]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(clients[1]?.attributes["error.type"]).toBeUndefined();
    expect(clients.map((s) => s.attributes["tollgate.attempt"])).toEqual([1, 2]);
    expect(server.attributes).toMatchObject({ "tollgate.attempts": 2, "tollgate.alias": "gpt" });
    // Each attempt carried its own span id upstream.
    const sent = openai.requests.slice(-2).map((r) => r.headers.traceparent);
    expect(sent).toEqual(clients.map((s) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`));
  });

  it("ends a stream's CLIENT span with the stream, and continues the client's own trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await call(
      traced,
      { model: "gpt", stream: true, messages: [{ role: "user", content: "Hello" }] },
      KEY_A,
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    );
    expect(res.status).toBe(200);
    const all = await finished(1);
    const server = all.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    const [client] = clientsOf(all, server);
    expect(client?.attributes).toMatchObject({
      "gen_ai.usage.output_tokens": 4,
      "gen_ai.request.model": "gpt-4o-mini",
    });
    expect(openai.requests.at(-1)?.headers.traceparent).toContain(traceId);
  });

  it("marks a refused request's SERVER span and calls no upstream", async () => {
    const res = await call(traced, { model: "gpt", messages: [{ role: "user", content: "hi" }] }, "tg-wrong");
    expect(res.status).toBe(401);
    const all = await finished(1);
    expect(all).toHaveLength(1);
    expect(all[0]?.attributes).toMatchObject({ "http.response.status_code": 401, "error.type": "401" });
  });

  it("sends no traceparent upstream when tracing is off", async () => {
    expect((await chat(plain, "gpt")).status).toBe(200);
    expect(openai.requests.at(-1)?.headers.traceparent).toBeUndefined();
    expect((await chat(plain, "sonnet")).status).toBe(200);
    expect(anthropic.requests.at(-1)?.headers.traceparent).toBeUndefined();
  });
});

describe("tracing switched on by the environment", () => {
  it("exports over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, content only when opted in", async () => {
    const bodies: string[] = [];
    const collector: Server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        if (req.url === "/v1/traces") bodies.push(Buffer.concat(parts).toString());
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const gw = await startGateway(routes("tracing: { capture_content: true }"), {
      ...ENV,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    });
    try {
      expect((await chat(gw, "gpt")).status).toBe(200);
      expect(openai.requests.at(-1)?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    } finally {
      await gw.close(); // flushes the batch
      collector.close();
    }
    const sent = bodies.join("\n");
    expect(sent).toContain('"chat gpt-4o-mini"');
    expect(sent).toContain('"tollgate"'); // service.name
    expect(sent).toContain("gen_ai.input.messages");
    expect(sent).toContain("gen_ai.output.messages");
  });
});
