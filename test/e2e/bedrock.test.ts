import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PARAMETERS } from "../../src/providers/bedrock/index.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { type BedrockMock, MOCK_TEXT, REQUEST_ID, startBedrockMock } from "../mocks/bedrock.js";

let mock: BedrockMock;
let gw: TestGateway;
let client: OpenAI;
const ACCESS_KEY = "TESTKEYIDNOTREAL";
const MODEL = "anthropic.claude-3-haiku-20240307-v1:0";
const last = () => mock.requests.at(-1) as BedrockMock["requests"][number];
const hello = [{ role: "user" as const, content: "Hello" }];
const helloNative = [{ role: "user", content: [{ text: "Hello" }] }];
const weatherTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
// OpenAI counts cached input in prompt_tokens: 11 + 4.
const USAGE = {
  prompt_tokens: 15,
  completion_tokens: 7,
  total_tokens: 22,
  prompt_tokens_details: { cached_tokens: 4 },
};

beforeAll(async () => {
  mock = await startBedrockMock();
  const errorModels = [400, 403, 429, 500, 503]
    .map((s) => `  e${s}:\n    deployments: [{ provider: aws, model: bedrock-${s} }]`)
    .join("\n");
  gw = await startGateway(
    `
providers:
  aws:
    type: bedrock
    region: us-east-1
    base_url: ${mock.url}
    aws:
      access_key_id: ${ACCESS_KEY}
      secret_access_key: \${AWS_SECRET}
models:
  haiku:
    deployments: [{ provider: aws, model: "${MODEL}" }]
  stream-error:
    deployments: [{ provider: aws, model: bedrock-stream-error }]
  slow:
    deployments: [{ provider: aws, model: bedrock-slow }]
${errorModels}
`,
    { AWS_SECRET: "secret-test-key" },
  );
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
});

afterAll(async () => {
  await gw?.close();
  await mock?.close();
});

describe("the mock upstream speaks Converse, read by the official AWS SDK", () => {
  const sdk = () =>
    new BedrockRuntimeClient({
      region: "us-east-1",
      endpoint: mock.url,
      credentials: { accessKeyId: "AKIASDK", secretAccessKey: "s" },
      maxAttempts: 1,
      // The SDK's HTTP/1.1 handler: its default for this client is HTTP/2, which a node:http mock does not speak.
      requestHandler: new NodeHttpHandler(),
    });
  const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];
  const toolConfig = { tools: [{ toolSpec: { name: "get_weather", inputSchema: { json: { type: "object" } } } }] };

  it("answers Converse, signed with SigV4", async () => {
    const out = await sdk().send(new ConverseCommand({ modelId: MODEL, messages }));
    expect(out.output?.message?.content).toEqual([{ text: MOCK_TEXT }]);
    expect(out.stopReason).toBe("end_turn");
    expect(out.usage).toMatchObject({ inputTokens: 11, outputTokens: 7, cacheReadInputTokens: 4 });
    expect(out.$metadata.requestId).toBe(REQUEST_ID);
    expect(last().modelId).toBe(MODEL);
    expect(last().path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
    expect(last().headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIASDK\/\d{8}\/us-east-1\/bedrock\//);
  });

  it("streams ConverseStream events, text and a tool call", async () => {
    const out = await sdk().send(new ConverseStreamCommand({ modelId: MODEL, messages, toolConfig }));
    const events: Record<string, unknown>[] = [];
    for await (const e of out.stream ?? []) events.push(e as unknown as Record<string, unknown>);
    expect(last().path).toBe(`/model/${encodeURIComponent(MODEL)}/converse-stream`);
    expect(events[0]).toEqual({ messageStart: { role: "assistant" } });
    expect(events).toContainEqual({
      contentBlockStart: {
        contentBlockIndex: 1,
        start: { toolUse: { toolUseId: "tooluse_mock_01", name: "get_weather" } },
      },
    });
    const args = events.flatMap((e) => {
      const d = e.contentBlockDelta as { delta?: { toolUse?: { input: string } } } | undefined;
      return d?.delta?.toolUse ? [d.delta.toolUse.input] : [];
    });
    expect(JSON.parse(args.join(""))).toEqual({ city: "Paris" });
    expect(events.at(-2)).toEqual({ messageStop: { stopReason: "tool_use" } });
    expect(events.at(-1)).toMatchObject({ metadata: { usage: { inputTokens: 11, outputTokens: 7 } } });
  });

  it("errors as Bedrock does, over HTTP and inside a stream", async () => {
    const err = await sdk()
      .send(new ConverseCommand({ modelId: "bedrock-429", messages }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottlingException);
    expect(err).toMatchObject({ name: "ThrottlingException", $metadata: { httpStatusCode: 429 } });
    const out = await sdk().send(new ConverseStreamCommand({ modelId: "bedrock-stream-error", messages }));
    const inStream = await (async () => {
      for await (const _ of out.stream ?? []);
    })().catch((e: unknown) => e);
    expect(inStream).toBeInstanceOf(ThrottlingException);
    expect((inStream as Error).message).toBe("Too many tokens, please wait.");
  });
});

describe("type: bedrock through the gateway", () => {
  it("answers a plain request, signed for the configured key, with the exact Converse body", async () => {
    const res = await client.chat.completions.create(
      { model: "haiku", messages: hello },
      { headers: { "x-request-id": "bedrock-plain-1" } },
    );
    expect(res).toMatchObject({
      id: `chatcmpl-${REQUEST_ID}`,
      object: "chat.completion",
      model: MODEL,
      choices: [{ index: 0, message: { role: "assistant", content: MOCK_TEXT }, finish_reason: "stop" }],
      usage: USAGE,
    });
    expect(last().path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
    expect(last().headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/us-east-1/bedrock/aws4_request`),
    );
    expect(last().body).toEqual({ messages: helloNative });
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({ request_id: "bedrock-plain-1", prompt_tokens: 15, completion_tokens: 7 }),
      ),
    );
  });

  it("moves system/developer to `system`, merges same-role turns, maps sampling and stop", async () => {
    const res = await client.chat.completions.create({
      model: "haiku",
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
      stop: "The end",
    });
    expect(res.choices[0]?.message.content).toBe("Hello from Bedrock. ");
    expect(last().body).toEqual({
      system: [{ text: "Be brief." }, { text: "Answer in English." }],
      inferenceConfig: { maxTokens: 300, temperature: 0.2, topP: 0.9, stopSequences: ["The end"] },
      messages: [
        { role: "user", content: [{ text: "Hi" }] },
        { role: "assistant", content: [{ text: "Hello!" }] },
        { role: "user", content: [{ text: "What is 2+2?" }, { text: "And 3+3?" }] },
      ],
    });
  });

  it("prefers max_completion_tokens, and maps max_tokens stops to finish_reason length", async () => {
    const res = await client.chat.completions.create({
      model: "haiku",
      messages: hello,
      max_tokens: 100,
      max_completion_tokens: 2,
    });
    expect(last().body.inferenceConfig).toEqual({ maxTokens: 2 });
    expect(res.choices[0]?.message.content).toBe("Hello from");
    expect(res.choices[0]?.finish_reason).toBe("length");
  });

  it("sends a data-URL image as bytes, and rejects an https URL with a 400", async () => {
    await client.chat.completions.create({
      model: "haiku",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          ],
        },
      ],
    });
    expect(last().body.messages).toEqual([
      {
        role: "user",
        content: [{ text: "What is this?" }, { image: { format: "png", source: { bytes: "iVBORw0KGgo=" } } }],
      },
    ]);
    const before = mock.requests.length;
    const err = await client.chat.completions
      .create({
        model: "haiku",
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] }],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param: "messages" });
    expect(mock.requests.length).toBe(before);
  });

  it("calls tools and takes the tool result back, with tool_choice translated", async () => {
    const res = await client.chat.completions.create({
      model: "haiku",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [weatherTool],
      tool_choice: "required",
    });
    expect(last().body.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: "get_weather",
            description: "Current weather in a city",
            inputSchema: { json: weatherTool.function.parameters },
          },
        },
      ],
      toolChoice: { any: {} },
    });
    const choice = res.choices[0] as OpenAI.ChatCompletion.Choice;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("Let me check.");
    expect(choice.message.tool_calls).toEqual([
      { id: "tooluse_mock_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
    ]);

    const followUp = await client.chat.completions.create({
      model: "haiku",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        choice.message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: "tool", tool_call_id: "tooluse_mock_01", content: "sunny, 21C" },
      ],
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    expect(followUp.choices[0]?.message.content).toBe("The weather in Paris is sunny.");
    expect((last().body.toolConfig as { toolChoice: unknown }).toolChoice).toEqual({ tool: { name: "get_weather" } });
    expect(last().body.messages).toEqual([
      { role: "user", content: [{ text: "Weather in Paris?" }] },
      {
        role: "assistant",
        content: [
          { text: "Let me check." },
          { toolUse: { toolUseId: "tooluse_mock_01", name: "get_weather", input: { city: "Paris" } } },
        ],
      },
      { role: "user", content: [{ toolResult: { toolUseId: "tooluse_mock_01", content: [{ text: "sunny, 21C" }] } }] },
    ]);

    await client.chat.completions.create({
      model: "haiku",
      messages: hello,
      tools: [weatherTool],
      tool_choice: "none",
    });
    expect(last().body).toEqual({ messages: helloNative });
    await client.chat.completions.create({
      model: "haiku",
      messages: hello,
      tools: [weatherTool],
      tool_choice: "auto",
    });
    expect((last().body.toolConfig as { toolChoice: unknown }).toolChoice).toEqual({ auto: {} });
  });

  it("streams text, every chunk parsed by the SDK, with one id and no usage chunk unless asked", async () => {
    const stream = await client.chat.completions.create(
      { model: "haiku", messages: hello, stream: true },
      { headers: { "x-request-id": "bedrock-stream-1" } },
    );
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(last().path).toBe(`/model/${encodeURIComponent(MODEL)}/converse-stream`);
    expect(last().body).toEqual({ messages: helloNative });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(MOCK_TEXT);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set([`chatcmpl-${REQUEST_ID}`]));
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
    expect(chunks.every((c) => c.model === MODEL && c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
    await eventually(() =>
      expect(gw.logs).toContainEqual(
        expect.objectContaining({
          request_id: "bedrock-stream-1",
          outcome: "completed",
          prompt_tokens: 15,
          completion_tokens: 7,
        }),
      ),
    );
  });

  it("ends a stream with a usage chunk when include_usage is set", async () => {
    const stream = await client.chat.completions.create({
      model: "haiku",
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: USAGE, id: `chatcmpl-${REQUEST_ID}` });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("streams tool calls the SDK assembles, indexed by tool call, not by Bedrock's block", async () => {
    const stream = client.chat.completions.stream({
      model: "haiku",
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
      { id: "tooluse_mock_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
    ]);
    const toolDeltas = raw.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas[0]).toEqual({
      index: 0,
      id: "tooluse_mock_01",
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    expect(toolDeltas.every((d) => d.index === 0)).toBe(true);
    expect(toolDeltas.length).toBe(3); // the start, then two argument pieces
  });

  it("keeps a 429's status, message and retry-after", async () => {
    const err = await client.chat.completions.create({ model: "e429", messages: hello }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.headers?.get("retry-after")).toBe("7");
    expect(e.type).toBe("rate_limit_error");
    expect(e.message).toContain("Too many requests");
    expect(e.message).toContain("'aws' (bedrock)");
  });

  it.each([
    [400, OpenAI.BadRequestError, "invalid_request_error", "model identifier is invalid"],
    [403, OpenAI.PermissionDeniedError, "permission_error", "don't have access"],
    [500, OpenAI.InternalServerError, "api_error", "internal error"],
    [503, OpenAI.InternalServerError, "api_error", "temporarily unavailable"],
  ])("maps an upstream %i to the OpenAI error class and type", async (status, cls, type, text) => {
    const err = await client.chat.completions.create({ model: `e${status}`, messages: hello }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ status, type });
    expect((err as Error).message).toContain(text);
    expect((err as Error).message).toContain("'aws' (bedrock)");
  });

  it("maps an error before a stream starts, and an exception event inside one", async () => {
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
    expect((err as Error).message).toContain("ThrottlingException: Too many tokens");
    expect((err as Error).message).toContain("bedrock");
  });

  it("closes the upstream stream when the client goes away", async () => {
    const before = mock.aborted();
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "slow", messages: hello, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    await (async () => {
      for await (const _ of stream) if (++chunks === 3) controller.abort();
    })().catch(() => undefined);
    await eventually(() => expect(mock.aborted()).toBe(before + 1));
  });

  it("drops unsupported parameters with an x-tollgate-warning header naming them, stream or not", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "haiku",
        messages: hello,
        seed: 7,
        response_format: { type: "json_object" },
        logprobs: false, // asks for nothing: no warning
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(MOCK_TEXT);
    expect(response.headers.get("x-tollgate-warning")).toBe("Unsupported by bedrock, dropped: response_format, seed");
    expect(last().body).toEqual({ messages: helloNative });
    const streamed = await client.chat.completions
      .create({ model: "haiku", messages: hello, stream: true, user: "u1" })
      .withResponse();
    expect(streamed.response.headers.get("x-tollgate-warning")).toBe("Unsupported by bedrock, dropped: user");
    for await (const _ of streamed.data);
  });

  it("rejects n > 1 with a 400 naming the parameter, before any upstream call", async () => {
    const before = mock.requests.length;
    const err = await client.chat.completions
      .create({ model: "haiku", messages: hello, n: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param: "n" });
    expect(mock.requests.length).toBe(before);
  });

  it("publishes its parameter table as data", () => {
    expect(PARAMETERS.stop).toMatchObject({ status: "renamed", native: "inferenceConfig.stopSequences" });
    expect(PARAMETERS.n?.status).toBe("rejected");
    expect(PARAMETERS.seed?.status).toBe("dropped");
  });
});
