import OpenAI, { type APIError, type RateLimitError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { closedPort, testRoutes, UPSTREAM_KEY } from "../helpers/routes.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

let mock: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;
const messages = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Hello" },
];

beforeAll(async () => {
  mock = await startOpenAIMock({ chunks: 20 });
  gw = await startGateway(testRoutes(mock.url, await closedPort()));
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test-key", maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await mock.close();
});

const lastRequest = () => mock.requests[mock.requests.length - 1] as OpenAIMock["requests"][number];

describe("POST /v1/chat/completions, non-streaming", () => {
  it("answers through the official SDK, with the alias rewritten to the upstream model", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "chat", messages, temperature: 0.2 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Hello from the mock upstream.");
    // gpt-4o-mini at $0.15 / $0.60 per million tokens: 11 x 0.15e-6 + 7 x 0.60e-6 = 0.00000585.
    expect(data.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, cost: 0.00000585 });
    expect(response.headers.get("x-request-id")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(response.headers.get("x-tollgate-deployment")).toBe("upstream/gpt-4o-mini");

    const sent = lastRequest();
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.body).toEqual({ model: "gpt-4o-mini", messages, temperature: 0.2 });
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(sent.headers["openai-organization"]).toBe("org-test");
    expect(sent.headers["x-request-id"]).toBe(response.headers.get("x-request-id"));
  });

  it("passes parameters it does not know through unchanged, byte for byte when the model name is the same", async () => {
    const raw =
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"future_param":{"x":[1,2]},  "seed":7}';
    const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: raw });
    expect(res.status).toBe(200);
    expect(lastRequest().body).toEqual(JSON.parse(raw));

    await client.chat.completions.create({ model: "chat", messages, seed: 42, logit_bias: { "50256": -100 } });
    expect(lastRequest().body).toMatchObject({ model: "gpt-4o-mini", seed: 42, logit_bias: { "50256": -100 } });
  });

  it("echoes the client's x-request-id and logs it on the request's line", async () => {
    const { response } = await client.chat.completions
      .create({ model: "chat", messages }, { headers: { "x-request-id": "trace-abc.123" } })
      .withResponse();
    expect(response.headers.get("x-request-id")).toBe("trace-abc.123");
    expect(lastRequest().headers["x-request-id"]).toBe("trace-abc.123");
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({
          msg: "request",
          request_id: "trace-abc.123",
          status: 200,
          alias: "chat",
          deployment: "upstream/gpt-4o-mini",
          latency_ms: expect.any(Number),
          prompt_tokens: 11,
        }),
      ),
    );
  });

  it("passes tool calls through both ways", async () => {
    const tools = [
      {
        type: "function" as const,
        function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ];
    const first = await client.chat.completions.create({ model: "chat", messages, tools });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call).toMatchObject({ id: "call_mock_1", type: "function", function: { name: "get_weather" } });
    expect(lastRequest().body.tools).toEqual(tools);

    const second = await client.chat.completions.create({
      model: "chat",
      tools,
      messages: [
        ...messages,
        first.choices[0]?.message as OpenAI.ChatCompletionMessageParam,
        { role: "tool", tool_call_id: "call_mock_1", content: '{"temp": 21}' },
      ],
    });
    expect(second.choices[0]?.message.content).toBe("Hello from the mock upstream.");
    expect((lastRequest().body.messages as unknown[]).at(-1)).toEqual({
      role: "tool",
      tool_call_id: "call_mock_1",
      content: '{"temp": 21}',
    });
  });

  it("spreads an alias over its deployments by weight, skipping a provider without its key", async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const { response } = await client.chat.completions.create({ model: "split", messages }).withResponse();
      const d = response.headers.get("x-tollgate-deployment") as string;
      seen[d] = (seen[d] ?? 0) + 1;
    }
    expect(Object.keys(seen).sort()).toEqual(["upstream/split-a", "upstream/split-b"]);
    expect(seen["upstream/split-a"]).toBeGreaterThan(110); // 150 expected
    expect(seen["upstream/split-b"]).toBeGreaterThan(20); // 50 expected
  });
});

describe("POST /v1/chat/completions, streaming", () => {
  it("relays every chunk, each parsed by the SDK", async () => {
    const stream = await client.chat.completions.create({ model: "chat", messages, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(22); // role, 20 content chunks, finish
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(
      Array.from({ length: 20 }, (_, i) => `tok${i} `).join(""),
    );
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    // The gateway asked the upstream for usage; the client, who did not, gets no usage chunk ("usage": null on
    // chunks is what OpenAI itself sends then, relayed without re-serialising each chunk).
    expect(chunks.every((c) => c.usage == null)).toBe(true);
    expect(lastRequest().body).toMatchObject({
      model: "gpt-4o-mini",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("records a stream's usage when the client did not ask for it", async () => {
    const stream = await client.chat.completions.create(
      { model: "chat", messages, stream: true },
      { headers: { "x-request-id": "usage-unasked-1" } },
    );
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toContain("tok19");
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({ request_id: "usage-unasked-1", prompt_tokens: 11, completion_tokens: 20 }),
      ),
    );
  });

  it("ends with a usage chunk when stream_options.include_usage is set, and records it", async () => {
    const stream = await client.chat.completions.create(
      { model: "chat", messages, stream: true, stream_options: { include_usage: true } },
      { headers: { "x-request-id": "usage-stream-1" } },
    );
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    // 11 x 0.15e-6 + 20 x 0.60e-6 = 0.00001365
    expect(last?.usage).toEqual({ prompt_tokens: 11, completion_tokens: 20, total_tokens: 31, cost: 0.00001365 });
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({
          request_id: "usage-stream-1",
          stream: true,
          outcome: "completed",
          prompt_tokens: 11,
          completion_tokens: 20,
          ttfb_ms: expect.any(Number),
        }),
      ),
    );
  });

  it("streams tool-call argument deltas the SDK assembles", async () => {
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];
    const stream = client.chat.completions.stream({ model: "chat", messages, tools });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      id: "call_mock_1",
      function: { name: "get_weather", arguments: '{"city":"Paris"}' },
    });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("aborts the upstream request at once when the client disconnects mid-stream", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "slow-stream", messages, stream: true },
      { signal: controller.signal, headers: { "x-request-id": "abort-me" } },
    );
    const index = mock.requests.length - 1;
    let received = 0;
    // The SDK ends the iteration quietly on its own abort.
    for await (const _chunk of stream) {
      if (++received === 3) controller.abort();
    }
    expect(received).toBe(3);
    const abortedAt = Date.now();
    const upstream = await mock.ended(index);
    expect(Date.now() - abortedAt).toBeLessThan(500); // the full stream would take 10 s
    expect(upstream.body.model).toBe("mock-slow-stream");
    expect(upstream.aborted).toBe(true);
    await eventually(() =>
      expect(gw.logs).toContainEqual(expect.objectContaining({ request_id: "abort-me", outcome: "client_abort" })),
    );
  });

  it("aborts the upstream request when the client gives up before the first byte", async () => {
    const index = mock.requests.length;
    await expect(
      client.chat.completions.create({ model: "hang-long", messages }, { signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow();
    const upstream = await mock.ended(index);
    expect(upstream.aborted).toBe(true);
  });

  it("ends a stream that fails upstream with an SSE error event the SDK raises", async () => {
    const stream = await client.chat.completions.create({ model: "cut-stream", messages, stream: true });
    const contents: string[] = [];
    const failure = await (async () => {
      try {
        for await (const chunk of stream) contents.push(chunk.choices[0]?.delta.content ?? "");
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(contents.length).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as APIError).message).toMatch(/Upstream provider 'upstream'/);
  });
});

describe("errors", () => {
  const create = (model: string) => client.chat.completions.create({ model, messages });

  it("answers 404 model_not_found for an unknown model", async () => {
    const err = await create("no-such-model").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: "model_not_found", param: "model", type: "invalid_request_error" });
  });

  it("answers 400 for malformed JSON, naming the problem", async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: '{"model": "chat",' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json", param: null });
    expect(body.error.message).toMatch(/could not parse the JSON body/);
  });

  it.each([
    [{ model: "chat" }, "messages", "Missing required parameter: 'messages'."],
    [{ model: "chat", messages: [] }, "messages", "Invalid value for 'messages'"],
    [
      { model: "chat", messages: [{ role: "robot", content: "x" }] },
      "messages[0].role",
      "Invalid value for 'messages[0].role'",
    ],
    [{ model: "chat", messages: [{ role: "user", content: "x" }], temperature: 7 }, "temperature", "'temperature'"],
    [{ model: "chat", messages: [{ role: "user", content: "x" }], stream: "yes" }, "stream", "'stream'"],
    [{ messages: [{ role: "user", content: "x" }] }, "model", "Missing required parameter: 'model'."],
  ])("answers 400 naming the field for %j", async (body, param, message) => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { param: string; message: string; type: string } };
    expect(error.param).toBe(param);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain(message);
  });

  it("answers 400 for a body that is JSON but not an object", async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: "[1,2]" });
    expect(res.status).toBe(400);
  });

  it("answers 413 for a body over the limit, declared or chunked", async () => {
    const big = JSON.stringify({ model: "chat", messages: [{ role: "user", content: "x".repeat(70_000) }] });
    const declared = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: big });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { code: string } }).error.code).toBe("request_too_large");

    const bytes = new TextEncoder().encode(big);
    const chunked = await fetch(`${gw.baseURL}/chat/completions`, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < bytes.length; i += 8192) c.enqueue(bytes.slice(i, i + 8192));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("keeps an upstream 429's status, message and retry-after", async () => {
    const err = await create("rate-limited").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as RateLimitError;
    expect(e.message).toContain("Rate limit reached for requests");
    expect(e.code).toBe("rate_limit_exceeded");
    expect(e.headers?.get("retry-after")).toBe("7");
  });

  it("keeps an upstream 500 and an upstream 400 with its param", async () => {
    const e500 = await create("broken").catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(OpenAI.InternalServerError);
    expect((e500 as APIError).message).toContain("The server had an error");
    const e400 = await create("picky").catch((e: unknown) => e);
    expect(e400).toMatchObject({ status: 400, param: "temperature", message: "400 Invalid 'temperature'" });
  });

  it("re-shapes a non-JSON upstream error", async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "html-error", messages }),
    });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      error: {
        message: "Upstream provider 'upstream' returned HTTP 502: <html>Bad Gateway</html>",
        type: "api_error",
        param: null,
        code: null,
      },
    });
  });

  it("answers 502 when the upstream is down and 504 when it does not answer in time", async () => {
    const down = await create("offline").catch((e: unknown) => e);
    expect(down).toMatchObject({ status: 502, code: "upstream_unreachable" });
    expect((down as Error).message).toContain("Upstream provider 'down' is unreachable (ECONNREFUSED)");
    const slow = await create("hang").catch((e: unknown) => e);
    expect(slow).toMatchObject({ status: 504, code: "upstream_timeout" });
  });

  it("keeps one provider's stuck requests from delaying another's (a pool per provider)", async () => {
    const giveUp = new AbortController();
    const stuck = Array.from({ length: 3 }, () =>
      client.chat.completions.create({ model: "stuck", messages }, { signal: giveUp.signal }).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 50)); // the narrow provider's one connection is now taken
    const started = performance.now();
    const answer = await client.chat.completions.create({ model: "chat", messages });
    expect(answer.choices[0]?.message.content).toBe("Hello from the mock upstream.");
    expect(performance.now() - started).toBeLessThan(500);
    giveUp.abort();
    await Promise.all(stuck);
  });

  it("answers 503 naming the variable to set for a provider without its key", async () => {
    const err = await create("unconfigured").catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: "provider_not_configured" });
    expect((err as Error).message).toContain("set the environment variable OPENAI_API_KEY");
  });

  it("never writes a provider key to the logs", async () => {
    await eventually(() => expect(gw.logs.length).toBeGreaterThan(10));
    expect(JSON.stringify(gw.logs)).not.toContain(UPSTREAM_KEY);
  });
});
