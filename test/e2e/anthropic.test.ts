import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PARAMETERS } from "../../src/providers/anthropic/index.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { type AnthropicMock, MOCK_TEXT, startAnthropicMock } from "../mocks/anthropic.js";

let mock: AnthropicMock;
let gw: TestGateway;
let client: OpenAI;
const KEY = "sk-ant-test-0123456789";
const last = () => mock.requests.at(-1) as AnthropicMock["requests"][number];
const hello = [{ role: "user" as const, content: "Hello" }];
const weatherTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
// OpenAI counts cached and cache-written input in prompt_tokens: 11 + 4 + 2.
const USAGE = {
  prompt_tokens: 17,
  completion_tokens: 7,
  total_tokens: 24,
  prompt_tokens_details: { cached_tokens: 4 },
};

beforeAll(async () => {
  mock = await startAnthropicMock();
  const errorModels = [400, 401, 403, 404, 429, 500, 529]
    .map((s) => `  e${s}:\n    deployments: [{ provider: claude, model: claude-${s} }]`)
    .join("\n");
  gw = await startGateway(
    `
providers:
  claude:
    type: anthropic
    base_url: ${mock.url}
    api_key: \${ANTHROPIC_API_KEY}
    headers:
      anthropic-beta: test-beta-1
models:
  sonnet:
    deployments: [{ provider: claude, model: claude-sonnet-4-5 }]
  stream-error:
    deployments: [{ provider: claude, model: claude-stream-error }]
${errorModels}
`,
    { ANTHROPIC_API_KEY: KEY },
  );
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
});

afterAll(async () => {
  await gw?.close();
  await mock?.close();
});

describe("the mock upstream speaks the Messages API, read by the official Anthropic SDK", () => {
  const sdk = () => new Anthropic({ baseURL: mock.url, apiKey: "k", maxRetries: 0 });

  it("answers a message", async () => {
    const msg = await sdk().messages.create({ model: "claude-x", max_tokens: 100, messages: hello });
    expect(msg.content).toEqual([{ type: "text", text: MOCK_TEXT }]);
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.usage.input_tokens).toBe(11);
    expect(last().path).toBe("/v1/messages");
    // @anthropic-ai/sdk 1.x sends the key as a bearer; the gateway sends x-api-key (both accepted upstream).
    expect(last().headers.authorization).toBe("Bearer k");
    expect(last().headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/); // the SDK pins a newer one than the gateway
  });

  it("streams, the SDK assembling the final message", async () => {
    const msg = await sdk().messages.stream({ model: "claude-x", max_tokens: 100, messages: hello }).finalMessage();
    expect(msg.content).toEqual([{ type: "text", text: MOCK_TEXT }]);
    expect(msg.usage.output_tokens).toBe(7);
    expect(last().body.stream).toBe(true);
  });

  it("calls a tool, streamed JSON assembled by the SDK", async () => {
    const tools = [{ name: "get_weather", input_schema: { type: "object" as const, properties: {} } }];
    const msg = await sdk().messages.create({ model: "claude-x", max_tokens: 100, messages: hello, tools });
    expect(msg.content[1]).toEqual({
      type: "tool_use",
      id: "toolu_mock_01",
      name: "get_weather",
      input: { city: "Paris" },
    });
    expect(msg.stop_reason).toBe("tool_use");
    const streamed = await sdk()
      .messages.stream({ model: "claude-x", max_tokens: 100, messages: hello, tools })
      .finalMessage();
    expect(streamed.content).toEqual(msg.content);
  });

  it("errors in Anthropic's shape, over HTTP and inside a stream", async () => {
    const err = await sdk()
      .messages.create({ model: "claude-429", max_tokens: 10, messages: hello })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).headers?.get("retry-after")).toBe("7");
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).error).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: expect.any(String) },
    });
    const overloaded = await sdk()
      .messages.create({ model: "claude-529", max_tokens: 10, messages: hello })
      .catch((e: unknown) => e);
    expect(overloaded).toMatchObject({ status: 529 });
    const inStream = await sdk()
      .messages.stream({ model: "claude-stream-error", max_tokens: 10, messages: hello })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(inStream).toBeInstanceOf(Anthropic.APIError);
    expect(String((inStream as Error).message)).toContain("Overloaded");
  });
});

describe("type: anthropic through the gateway", () => {
  it("answers a plain request, sending the Messages API's headers and body", async () => {
    const res = await client.chat.completions.create(
      { model: "sonnet", messages: hello },
      { headers: { "x-request-id": "anthropic-plain-1" } },
    );
    expect(res).toMatchObject({
      object: "chat.completion",
      model: "claude-sonnet-4-5",
      choices: [{ index: 0, message: { role: "assistant", content: MOCK_TEXT }, finish_reason: "stop" }],
      usage: USAGE,
    });
    expect(res.id).toBe("chatcmpl-msg_mock_01");
    expect(last().path).toBe("/v1/messages");
    expect(last().headers).toMatchObject({
      "x-api-key": KEY,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "test-beta-1",
      "content-type": "application/json",
    });
    expect(last().headers.authorization).toBeUndefined();
    expect(last().body).toEqual({ model: "claude-sonnet-4-5", max_tokens: 4096, messages: hello });
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({ request_id: "anthropic-plain-1", prompt_tokens: 17, completion_tokens: 7 }),
      ),
    );
  });

  it("moves system and developer messages to `system`, merges same-role turns, passes sampling and user", async () => {
    const res = await client.chat.completions.create({
      model: "sonnet",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "developer", content: [{ type: "text", text: "Answer in English." }] },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "What is 2+2?" },
        { role: "user", content: "And 3+3?" },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 300,
      user: "user-42",
    });
    expect(res.choices[0]?.message.content).toBe(MOCK_TEXT);
    expect(last().body).toEqual({
      model: "claude-sonnet-4-5",
      system: "Be brief.\n\nAnswer in English.",
      max_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      metadata: { user_id: "user-42" },
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        {
          role: "user",
          content: [
            { type: "text", text: "What is 2+2?" },
            { type: "text", text: "And 3+3?" },
          ],
        },
      ],
    });
  });

  it("prefers max_completion_tokens, and maps max_tokens stops to finish_reason length", async () => {
    const res = await client.chat.completions.create({
      model: "sonnet",
      messages: hello,
      max_tokens: 100,
      max_completion_tokens: 2,
    });
    expect(last().body.max_tokens).toBe(2);
    expect(res.choices[0]?.message.content).toBe("Hello from");
    expect(res.choices[0]?.finish_reason).toBe("length");
  });

  it("sends stop as stop_sequences, a string or a list", async () => {
    const res = await client.chat.completions.create({ model: "sonnet", messages: hello, stop: "The end" });
    expect(last().body.stop_sequences).toEqual(["The end"]);
    expect(res.choices[0]?.message.content).toBe("Hello from Claude. ");
    expect(res.choices[0]?.finish_reason).toBe("stop");
    await client.chat.completions.create({ model: "sonnet", messages: hello, stop: ["###", "The end"] });
    expect(last().body.stop_sequences).toEqual(["###", "The end"]);
  });

  it("sends images: a data URL as base64, an https URL as a url source", async () => {
    await client.chat.completions.create({
      model: "sonnet",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in these?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          ],
        },
      ],
    });
    expect(last().body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is in these?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        ],
      },
    ]);
  });

  it("calls tools and takes the tool result back, with tool_choice translated", async () => {
    const res = await client.chat.completions.create({
      model: "sonnet",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [weatherTool],
      tool_choice: "required",
      parallel_tool_calls: false,
    });
    expect(last().body.tools).toEqual([
      {
        name: "get_weather",
        description: "Current weather in a city",
        input_schema: weatherTool.function.parameters,
      },
    ]);
    expect(last().body.tool_choice).toEqual({ type: "any", disable_parallel_tool_use: true });
    const choice = res.choices[0] as OpenAI.ChatCompletion.Choice;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("Let me check.");
    expect(choice.message.tool_calls).toEqual([
      { id: "toolu_mock_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
    ]);

    const followUp = await client.chat.completions.create({
      model: "sonnet",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        choice.message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: "tool", tool_call_id: "toolu_mock_01", content: "sunny, 21C" },
      ],
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    expect(followUp.choices[0]?.message.content).toBe("The weather in Paris is sunny.");
    expect(last().body.tool_choice).toEqual({ type: "tool", name: "get_weather" });
    expect(last().body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "toolu_mock_01", name: "get_weather", input: { city: "Paris" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_mock_01", content: "sunny, 21C" }] },
    ]);

    await client.chat.completions.create({
      model: "sonnet",
      messages: hello,
      tools: [weatherTool],
      tool_choice: "none",
    });
    expect(last().body.tool_choice).toEqual({ type: "none" });
    await client.chat.completions.create({
      model: "sonnet",
      messages: hello,
      tools: [weatherTool],
      tool_choice: "auto",
    });
    expect(last().body.tool_choice).toEqual({ type: "auto" });
  });

  it("streams text, every chunk parsed by the SDK, with one id and no usage chunk unless asked", async () => {
    const stream = await client.chat.completions.create(
      { model: "sonnet", messages: hello, stream: true },
      { headers: { "x-request-id": "anthropic-stream-1" } },
    );
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(last().body).toMatchObject({ stream: true, max_tokens: 4096, model: "claude-sonnet-4-5" });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(MOCK_TEXT);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["chatcmpl-msg_mock_01"]));
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
    expect(chunks.every((c) => c.model === "claude-sonnet-4-5" && c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
    // Usage is recorded all the same.
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({
          request_id: "anthropic-stream-1",
          outcome: "completed",
          prompt_tokens: 17,
          completion_tokens: 7,
        }),
      ),
    );
  });

  it("ends a stream with a usage chunk when include_usage is set", async () => {
    const stream = await client.chat.completions.create({
      model: "sonnet",
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: USAGE, id: "chatcmpl-msg_mock_01" });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    expect(last().body.stream_options).toBeUndefined();
  });

  it("streams tool calls the SDK assembles, indexed by tool call, not by Anthropic's block", async () => {
    const stream = client.chat.completions.stream({
      model: "sonnet",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [weatherTool],
    });
    const raw: OpenAI.ChatCompletionChunk[] = [];
    stream.on("chunk", (c) => raw.push(c));
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBe("Let me check.");
    expect(choice?.message.tool_calls).toEqual([
      { id: "toolu_mock_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
    ]);
    const toolDeltas = raw.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas[0]).toEqual({
      index: 0,
      id: "toolu_mock_01",
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    expect(toolDeltas.every((d) => d.index === 0)).toBe(true);
    expect(toolDeltas.length).toBe(3); // the start, then two non-empty argument pieces
  });

  it("keeps a 429's status, message and retry-after", async () => {
    const err = await client.chat.completions.create({ model: "e429", messages: hello }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.headers?.get("retry-after")).toBe("7");
    expect(e.type).toBe("rate_limit_error");
    expect(e.message).toContain("per-minute rate limit");
    expect(e.message).toContain("anthropic");
  });

  it.each([
    [400, OpenAI.BadRequestError, "invalid_request_error", "messages: field required"],
    [401, OpenAI.AuthenticationError, "authentication_error", "invalid x-api-key"],
    [403, OpenAI.PermissionDeniedError, "permission_error", "does not have permission"],
    [404, OpenAI.NotFoundError, "invalid_request_error", "model: claude-404"],
    [500, OpenAI.InternalServerError, "api_error", "Internal server error"],
  ])("maps an upstream %i to the OpenAI error class and type", async (status, cls, type, text) => {
    const err = await client.chat.completions.create({ model: `e${status}`, messages: hello }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ status, type });
    expect((err as Error).message).toContain(text);
    expect((err as Error).message).toContain("'claude' (anthropic)");
  });

  it("turns Anthropic's 529 overloaded into a 503 api_error naming anthropic", async () => {
    const err = await client.chat.completions.create({ model: "e529", messages: hello }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 503, type: "api_error" });
    expect((err as Error).message).toContain("Upstream provider 'claude' (anthropic): Overloaded");
  });

  it("maps an upstream error before a stream starts, and an error event inside one", async () => {
    const before = await client.chat.completions
      .create({ model: "e429", messages: hello, stream: true })
      .catch((e: unknown) => e);
    expect(before).toBeInstanceOf(OpenAI.RateLimitError);
    const stream = await client.chat.completions.create({ model: "stream-error", messages: hello, stream: true });
    let text = "";
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe(MOCK_TEXT);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain("Overloaded");
    expect((err as Error).message).toContain("anthropic");
  });

  it("drops unsupported parameters with an x-tollgate-warning header naming them", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "sonnet",
        messages: hello,
        seed: 7,
        presence_penalty: 0.5,
        response_format: { type: "json_object" },
        logprobs: false, // asks for nothing: no warning
        // @ts-expect-error a field OpenAI does not have: unknown fields are dropped with the warning too
        mystery_knob: 1,
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(MOCK_TEXT);
    expect(response.headers.get("x-tollgate-warning")).toBe(
      "Unsupported by anthropic, dropped: mystery_knob, presence_penalty, response_format, seed",
    );
    expect(last().body).toEqual({ model: "claude-sonnet-4-5", max_tokens: 4096, messages: hello });
    const plain = await client.chat.completions.create({ model: "sonnet", messages: hello, n: 1 }).withResponse();
    expect(plain.response.headers.get("x-tollgate-warning")).toBeNull();
  });

  it("warns on a stream too", async () => {
    const { response } = await client.chat.completions
      .create({ model: "sonnet", messages: hello, stream: true, seed: 1 })
      .withResponse();
    expect(response.headers.get("x-tollgate-warning")).toBe("Unsupported by anthropic, dropped: seed");
  });

  it("rejects n > 1 with a 400 naming the parameter, before any upstream call", async () => {
    const before = mock.requests.length;
    const err = await client.chat.completions
      .create({ model: "sonnet", messages: hello, n: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param: "n" });
    expect(mock.requests.length).toBe(before);
  });

  it("rejects what the Messages API cannot express, with a 400", async () => {
    const before = mock.requests.length;
    const audio = await client.chat.completions
      .create({
        model: "sonnet",
        messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }],
      })
      .catch((e: unknown) => e);
    expect(audio).toMatchObject({ status: 400, param: "messages" });
    const badArgs = await client.chat.completions
      .create({
        model: "sonnet",
        messages: [
          hello[0] as OpenAI.ChatCompletionMessageParam,
          {
            role: "assistant",
            tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{not json" } }],
          },
          { role: "tool", tool_call_id: "t1", content: "x" },
        ],
      })
      .catch((e: unknown) => e);
    expect(badArgs).toMatchObject({ status: 400, param: "messages" });
    expect(mock.requests.length).toBe(before);
  });

  it("publishes its parameter table as data", () => {
    expect(PARAMETERS.stop).toEqual({ status: "renamed", native: "stop_sequences", note: expect.any(String) });
    expect(PARAMETERS.n?.status).toBe("rejected");
    expect(PARAMETERS.seed?.status).toBe("dropped");
  });
});
