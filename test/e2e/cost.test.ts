import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatCompletionRequestSchema } from "../../src/openai/schema.js";
import { COOKBOOK_MESSAGES } from "../fixtures/cookbook.js";
import {
  COUNTING_COMPLETION_TOKENS,
  type CountingUpstream,
  cookbookPromptTokens,
  startCountingUpstream,
} from "../helpers/counting-upstream.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type AnthropicMock, startAnthropicMock } from "../mocks/anthropic.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

// USD per token, from the bundled price database.
const GPT_4O_MINI = { input: 0.15e-6, output: 0.6e-6 };
const GPT_4O = { input: 2.5e-6, output: 10e-6 };

let mock: OpenAIMock;
let claude: AnthropicMock;
let counting: CountingUpstream;
let gw: TestGateway;
let client: OpenAI;
const messages = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Hello" },
];

beforeAll(async () => {
  [mock, claude, counting] = await Promise.all([
    startOpenAIMock({ chunks: 20 }),
    startAnthropicMock(),
    startCountingUpstream(),
  ]);
  gw = await startGateway(
    `
providers:
  upstream:
    type: openai-compatible
    base_url: ${mock.url}
  openai:
    type: openai
    base_url: ${counting.url}
    api_key: \${OPENAI_API_KEY}
  claude:
    type: anthropic
    base_url: ${claude.url}
    api_key: \${ANTHROPIC_API_KEY}
models:
  chat:
    deployments: [{ provider: upstream, model: gpt-4o-mini }]
  broken:
    deployments: [{ provider: upstream, model: mock-500 }]
  exact:
    deployments: [{ provider: openai, model: gpt-4o }]
  sonnet:
    deployments: [{ provider: claude, model: claude-sonnet-4-5 }]
`,
    { OPENAI_API_KEY: "sk-counting-0123456789", ANTHROPIC_API_KEY: "sk-ant-test-0123456789" },
  );
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([mock?.close(), claude?.close(), counting?.close()]);
});

const POSITIVE_DECIMAL = /^\d+\.\d+$/;

function expectPositiveUsd(header: string | null): number {
  expect(header).toMatch(POSITIVE_DECIMAL);
  const usd = Number(header);
  expect(usd).toBeGreaterThan(0);
  return usd;
}

describe("cost headers and usage.cost", () => {
  it("a JSON answer carries the estimate before the call, and the actual cost in a header and usage.cost", async () => {
    const { data, response } = await client.chat.completions.create({ model: "chat", messages }).withResponse();
    expectPositiveUsd(response.headers.get("x-tollgate-cost-estimate"));
    // 11 x 0.15e-6 + 7 x 0.60e-6 = 0.00000585
    expect(response.headers.get("x-tollgate-cost")).toBe("0.00000585");
    expect(data.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, cost: 0.00000585 });
  });

  it("a stream carries the estimate header, and the cost in its final usage chunk when usage was asked for", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "chat", messages, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expectPositiveUsd(response.headers.get("x-tollgate-cost-estimate"));
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.slice(0, -1).every((c) => c.usage == null)).toBe(true);
    // 11 x 0.15e-6 + 20 x 0.60e-6 = 0.00001365
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 11,
      completion_tokens: 20,
      total_tokens: 31,
      cost: 0.00001365,
    });
  });

  it("a translated provider's answer (Anthropic) is priced with its cache reads and writes", async () => {
    const { data, response } = await client.chat.completions.create({ model: "sonnet", messages }).withResponse();
    expectPositiveUsd(response.headers.get("x-tollgate-cost-estimate"));
    // claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per Mtok; the mock reports
    // 11 input, 4 cache read, 2 cache write, 7 output: 33e-6 + 1.2e-6 + 7.5e-6 + 105e-6 = 0.0001467
    expect(data.usage).toMatchObject({
      prompt_tokens: 17,
      completion_tokens: 7,
      prompt_tokens_details: { cached_tokens: 4 },
    });
    expect((data.usage as { cost?: number }).cost).toBeCloseTo(0.0001467, 12);
    expect(Number(response.headers.get("x-tollgate-cost"))).toBeCloseTo(0.0001467, 10);
  });
});

// OpenAI's cookbook examples (name fields included), non-ASCII text and a longer prompt.
const PROMPTS: { name: string; messages: { role: string; content: string; name?: string }[] }[] = [
  { name: "system and user", messages },
  {
    name: "the cookbook's example with names",
    messages: COOKBOOK_MESSAGES,
  },
  {
    name: "non-ASCII and a long turn",
    messages: [
      { role: "user", content: "Größe, naïve café, 日本語のテキスト, emoji 🎉🚀, مرحبا" },
      { role: "assistant", content: "Noted." },
      { role: "user", content: "The quick brown fox jumps over the lazy dog. ".repeat(120) },
    ],
  },
];

describe("prompt tokens are exact for OpenAI models on text", () => {
  it.each(PROMPTS)("the cost engine counts $name as OpenAI's cookbook does", async ({ messages: msgs }) => {
    const route = gw.gateway.services.table.get("exact");
    expect(route).toBeDefined();
    const request = ChatCompletionRequestSchema.parse({ model: "exact", messages: msgs });
    const p = await gw.gateway.services.engine.predict(request, "exact", undefined, route?.deployments ?? []);
    const expected = cookbookPromptTokens(msgs);
    expect(p.tiktokenTokens).toBe(expected);
    expect(p.deployments[0]?.promptTokens).toBe(expected);
  });

  it.each(PROMPTS)("through the gateway, the estimate header prices $name exactly", async ({ messages: msgs }) => {
    const { data, response } = await client.chat.completions
      .create({
        model: "exact",
        messages: msgs as unknown as OpenAI.ChatCompletionMessageParam[],
        max_tokens: COUNTING_COMPLETION_TOKENS,
      })
      .withResponse();
    const tokens = cookbookPromptTokens(msgs);
    expect(data.usage?.prompt_tokens).toBe(tokens); // what the upstream billed
    // max_tokens caps the predicted completion at 5, which is what the upstream answers: estimate == actual.
    const expected = tokens * GPT_4O.input + COUNTING_COMPLETION_TOKENS * GPT_4O.output;
    expect(Number(response.headers.get("x-tollgate-cost-estimate"))).toBeCloseTo(expected, 10);
    expect(Number(response.headers.get("x-tollgate-cost"))).toBeCloseTo(expected, 10);
  });

  it("so the prompt-token error histogram of gpt-4o holds only zeros", async () => {
    const text = await eventually2(async () => {
      const t = await (await fetch(`${gw.origin}/metrics`)).text();
      expect(metric(t, 'tollgate_prediction_relative_error_count{model="gpt-4o",metric="prompt_tokens"}')).toBe(
        PROMPTS.length,
      );
      return t;
    });
    expect(metric(text, 'tollgate_prediction_relative_error_sum{model="gpt-4o",metric="prompt_tokens"}')).toBe(0);
    expect(
      metric(text, 'tollgate_prediction_relative_error_bucket{le="-0.01",model="gpt-4o",metric="prompt_tokens"}'),
    ).toBe(0);
    expect(
      metric(text, 'tollgate_prediction_relative_error_bucket{le="0",model="gpt-4o",metric="prompt_tokens"}'),
    ).toBe(PROMPTS.length);
  });

  it("and the usage API reports the same accuracy per model", async () => {
    const res = await fetch(`${gw.baseURL}/usage/accuracy`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      models: Record<string, { prompt_tokens?: { count: number; meanAbsError: number } }>;
    };
    expect(body.models["gpt-4o"]?.prompt_tokens).toMatchObject({ count: PROMPTS.length, meanAbsError: 0 });
  });
});

interface EstimateRow {
  model: string;
  provider: string;
  deployment: string | null;
  estimated_prompt_tokens: number;
  estimated_completion_tokens: number;
  estimated_cost_usd: number | null;
  max_cost_usd: number | null;
  fits_context: boolean | null;
}

const post = (path: string, body: unknown) =>
  fetch(`${gw.origin}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

function expectCheapestFirst(costs: (number | null)[]): void {
  const known = costs.map((c) => c ?? Number.POSITIVE_INFINITY);
  expect(known).toEqual([...known].sort((a, b) => a - b));
}

describe("POST /v1/cost/estimate", () => {
  it("ranks aliases and priced models for a chat request, cheapest first", async () => {
    const res = await post("/v1/cost/estimate", {
      model: "chat",
      messages,
      max_tokens: 100,
      models: ["sonnet", "openai/gpt-4o", "chat", "anthropic/claude-3-5-sonnet-20241022", "openai/gpt-4o-mini"],
    });
    expect(res.status).toBe(200);
    const { object, data } = (await res.json()) as { object: string; data: EstimateRow[] };
    expect(object).toBe("list");
    expect(data).toHaveLength(5);
    expectCheapestFirst(data.map((r) => r.estimated_cost_usd));
    const tokens = cookbookPromptTokens(messages);
    const gpt4o = data.find((r) => r.model === "openai/gpt-4o");
    // A model with no history: the completion is max_tokens (under the 256 default).
    expect(gpt4o).toMatchObject({
      provider: "openai",
      deployment: null,
      estimated_prompt_tokens: tokens,
      estimated_completion_tokens: 100,
      fits_context: true,
    });
    expect(gpt4o?.estimated_cost_usd).toBeCloseTo(tokens * GPT_4O.input + 100 * GPT_4O.output, 12);
    expect(gpt4o?.max_cost_usd).toBeCloseTo(tokens * GPT_4O.input + 100 * GPT_4O.output, 12);
    const mini = data.find((r) => r.model === "openai/gpt-4o-mini");
    expect(mini?.estimated_cost_usd).toBeCloseTo(tokens * GPT_4O_MINI.input + 100 * GPT_4O_MINI.output, 12);
    expect(data.find((r) => r.model === "chat")).toMatchObject({
      provider: "openai-compatible",
      deployment: "upstream/gpt-4o-mini",
    });
    expect(data.find((r) => r.model === "sonnet")).toMatchObject({
      provider: "anthropic",
      deployment: "claude/claude-sonnet-4-5",
    });
    // gpt-4o-mini (alias and model) is cheapest; Claude 3.5 Sonnet ($15/Mtok output) is dearest.
    expect(
      data
        .slice(0, 2)
        .map((r) => r.model)
        .sort(),
    ).toEqual(["chat", "openai/gpt-4o-mini"]);
    // Without history both get max_tokens (100) completions; the alias "sonnet" predicts from its own history.
    expect(data.at(-1)?.model).toBe("anthropic/claude-3-5-sonnet-20241022");
    expect(data.at(-1)?.estimated_completion_tokens).toBe(100);
    for (const r of data) {
      expect(r.estimated_prompt_tokens).toBeGreaterThan(0);
      expect(r.estimated_cost_usd).toBeGreaterThan(0);
    }
  });

  it("takes {prompt} instead of messages", async () => {
    const res = await post("/v1/cost/estimate", {
      prompt: "How many tokens is this?",
      max_tokens: 10,
      models: ["openai/gpt-4o", "openai/gpt-4o-mini"],
    });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: EstimateRow[] };
    const tokens = cookbookPromptTokens([{ role: "user", content: "How many tokens is this?" }]);
    expect(data.map((r) => r.model)).toEqual(["openai/gpt-4o-mini", "openai/gpt-4o"]);
    expect(data.map((r) => r.estimated_prompt_tokens)).toEqual([tokens, tokens]);
    expect(data[0]?.estimated_cost_usd).toBeCloseTo(tokens * GPT_4O_MINI.input + 10 * GPT_4O_MINI.output, 12);
  });

  it("refuses an unknown model with a 400 naming the param", async () => {
    const res = await post("/v1/cost/estimate", { messages, models: ["openai/gpt-4o", "no-such-model-xyz"] });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { type: string; param: string; message: string } };
    expect(error).toMatchObject({ type: "invalid_request_error", param: "models" });
    expect(error.message).toContain("no-such-model-xyz");
  });
});

interface ModelRow {
  id: string;
  provider: string;
  model: string;
  input_per_mtok: number;
  output_per_mtok: number;
}

describe("price runner compatibility routes", () => {
  it("GET /api/models lists priced models with their prices", async () => {
    const { models } = (await (await fetch(`${gw.origin}/api/models`)).json()) as { models: ModelRow[] };
    expect(models.length).toBeGreaterThan(10);
    expect(models.find((m) => m.id === "openai/gpt-4o")).toMatchObject({
      provider: "openai",
      model: "gpt-4o",
      input_per_mtok: 2.5,
      output_per_mtok: 10,
    });
    expect(models.some((m) => m.provider === "anthropic")).toBe(true);
  });

  it("GET /api/models/provider/openai lists only OpenAI's", async () => {
    const body = (await (await fetch(`${gw.origin}/api/models/provider/openai`)).json()) as {
      provider: string;
      models: ModelRow[];
    };
    expect(body.provider).toBe("openai");
    expect(body.models.length).toBeGreaterThan(0);
    expect(body.models.every((m) => m.provider === "openai")).toBe(true);
    expect(body.models.find((m) => m.model === "gpt-4o-mini")).toMatchObject({
      input_per_mtok: 0.15,
      output_per_mtok: 0.6,
    });
  });

  it("GET /api/providers lists the providers", async () => {
    const { providers } = (await (await fetch(`${gw.origin}/api/providers`)).json()) as { providers: string[] };
    expect(providers).toEqual(expect.arrayContaining(["openai", "anthropic"]));
  });

  it("POST /api/get_best_price_for_prompt ranks cheapest first with tokens, per-token prices, total and quality", async () => {
    const prompt = "Summarise the plot of Hamlet in one sentence.";
    const res = await post("/api/get_best_price_for_prompt", {
      prompt,
      max_tokens: 50,
      model_names: ["openai/gpt-4o", "anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini"],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      prompt_tokens: number;
      results: {
        model: string;
        estimated_tokens: { input: number; output: number };
        price_per_token: { input: number | null; output: number | null };
        total_cost: number | null;
        quality_score: number | null;
      }[];
    };
    const tokens = cookbookPromptTokens([{ role: "user", content: prompt }]);
    expect(body.prompt_tokens).toBe(tokens);
    expect(body.results.map((r) => r.model)).toEqual([
      "openai/gpt-4o-mini",
      "openai/gpt-4o",
      "anthropic/claude-sonnet-4-5",
    ]);
    const [mini] = body.results;
    expect(mini?.estimated_tokens).toEqual({ input: tokens, output: 50 });
    expect(mini?.price_per_token.input).toBeCloseTo(GPT_4O_MINI.input, 15);
    expect(mini?.price_per_token.output).toBeCloseTo(GPT_4O_MINI.output, 15);
    expect(mini?.total_cost).toBeCloseTo(tokens * GPT_4O_MINI.input + 50 * GPT_4O_MINI.output, 12);
    for (const r of body.results) expect(r).toHaveProperty("quality_score");
    expect(body.results.some((r) => typeof r.quality_score === "number")).toBe(true);
  });

  it("POST /api/get_best_price_for_prompt filtered by provider ranks only that provider's models", async () => {
    const res = await post("/api/get_best_price_for_prompt", { prompt: "Hi", providers: ["anthropic"] });
    const { results } = (await res.json()) as { results: { provider: string; total_cost: number | null }[] };
    expect(results.length).toBeGreaterThan(1);
    expect(results.every((r) => r.provider === "anthropic")).toBe(true);
    expectCheapestFirst(results.map((r) => r.total_cost));
  });

  it("POST /api/send_prompt answers every model, one failing upstream not failing the other", async () => {
    const res = await post("/api/send_prompt", { prompt: "Hello", model_names: ["chat", "broken"] });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as {
      results: {
        model: string;
        success: boolean;
        response: string | null;
        cost: number | null;
        latency_ms: number;
        error: string | null;
      }[];
    };
    expect(results).toHaveLength(2);
    const ok = results.find((r) => r.model === "chat");
    const failed = results.find((r) => r.model === "broken");
    expect(ok).toMatchObject({
      success: true,
      response: "Hello from the mock upstream.",
      cost: 0.00000585,
      error: null,
    });
    expect(ok?.latency_ms).toBeGreaterThan(0);
    expect(failed).toMatchObject({ success: false, response: null, cost: null });
    expect(failed?.error).toContain("The server had an error");
  });

  it("POST /api/send_prompt refuses an unknown alias", async () => {
    const res = await post("/api/send_prompt", { prompt: "Hello", model_names: ["chat", "nope"] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("model_names");
  });
});

/** The value of one sample line of the Prometheus text format. */
function metric(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function eventually2<T>(check: () => Promise<T>, timeoutMs = 3000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe("metrics", () => {
  it("shows the cost, the prediction error and the usage records written", async () => {
    await client.chat.completions.create({ model: "chat", messages });
    const text = await eventually2(async () => {
      await gw.gateway.services.ledger.flush();
      const t = await (await fetch(`${gw.origin}/metrics`)).text();
      expect(metric(t, 'tollgate_usage_records_total{state="written"}')).toBeGreaterThan(0);
      return t;
    });
    expect(metric(text, 'tollgate_cost_usd_total{alias="chat",deployment="upstream/gpt-4o-mini"}')).toBeGreaterThan(0);
    expect(metric(text, 'tollgate_cost_usd_total{alias="sonnet",deployment="claude/claude-sonnet-4-5"}')).toBeCloseTo(
      0.0001467,
      10,
    );
    expect(text).toMatch(
      /^tollgate_prediction_relative_error_count\{model="gpt-4o-mini",metric="prompt_tokens"\} [1-9]/m,
    );
    expect(text).toMatch(/^tollgate_prediction_relative_error_bucket\{le="0",model="gpt-4o",metric="cost"\} [1-9]/m);
  });
});

describe("a model without a known price", () => {
  const routes = (mode: "block" | "allow") => `
providers:
  upstream:
    type: openai-compatible
    base_url: ${mock.url}
models:
  mystery:
    deployments: [{ provider: upstream, model: in-house-model-7 }]
  negotiated:
    deployments:
      - provider: upstream
        model: in-house-model-8
        price: { input_per_mtok: 1.0, output_per_mtok: 2.0 }
pricing:
  sources: []
  unknown_price: ${mode}
`;

  it("is refused with 403 price_unknown under unknown_price: block, and warned about at start", async () => {
    const blocking = await startGateway(routes("block"));
    try {
      const c = new OpenAI({ baseURL: blocking.baseURL, apiKey: "tg-test", maxRetries: 0 });
      const err = await c.chat.completions.create({ model: "mystery", messages }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("price_unknown");
      expect(
        blocking.logs.some((l) => String(l.msg).includes("no price known for openai-compatible/in-house-model-7")),
      ).toBe(true);
      // A deployment's own price in routes.yaml makes it known: 11 x 1e-6 + 7 x 2e-6 = 0.000025.
      const { data } = await c.chat.completions.create({ model: "negotiated", messages }).withResponse();
      expect((data.usage as { cost?: number }).cost).toBeCloseTo(0.000025, 12);
    } finally {
      await blocking.close();
    }
  });

  it("is served with no cost under unknown_price: allow", async () => {
    const allowing = await startGateway(routes("allow"));
    try {
      const c = new OpenAI({ baseURL: allowing.baseURL, apiKey: "tg-test", maxRetries: 0 });
      const { data, response } = await c.chat.completions.create({ model: "mystery", messages }).withResponse();
      expect(data.choices[0]?.message.content).toBeTruthy();
      expect((data.usage as { cost?: number }).cost).toBeUndefined();
      expect(response.headers.get("x-tollgate-cost-estimate")).toBeNull();
    } finally {
      await allowing.close();
    }
  });
});
