import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type GeminiMock, type GeminiRecordedRequest, startGeminiMock } from "../mocks/gemini.js";

let mock: GeminiMock;
let gw: TestGateway;
let client: OpenAI;
const messages = [{ role: "user" as const, content: "Hello" }];
const last = () => mock.requests.at(-1) as GeminiRecordedRequest;
const ANSWER = "Hello from the mock Gemini upstream.";
const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false,
    },
  },
};

beforeAll(async () => {
  mock = await startGeminiMock();
  gw = await startGateway(
    `
providers:
  google:
    type: gemini
    base_url: ${mock.url}
    api_key: \${GEMINI_API_KEY}
    headers: { X-Custom: yes }
  google-versioned:
    type: gemini
    base_url: ${mock.url}/v1beta/
    api_key: other-key
models:
  versioned: { deployments: [{ provider: google-versioned, model: models/gemini-1.5-pro }] }
  flash: { deployments: [{ provider: google, model: gemini-2.0-flash }] }
  thinking: { deployments: [{ provider: google, model: gemini-thinking }] }
  limited: { deployments: [{ provider: google, model: gemini-429 }] }
  bad: { deployments: [{ provider: google, model: gemini-400 }] }
  unauth: { deployments: [{ provider: google, model: gemini-401 }] }
  broken: { deployments: [{ provider: google, model: gemini-500 }] }
  overloaded: { deployments: [{ provider: google, model: gemini-503 }] }
  blocked: { deployments: [{ provider: google, model: gemini-blocked }] }
  cut: { deployments: [{ provider: google, model: gemini-stream-error }] }
`,
    { GEMINI_API_KEY: "gemini-key-123" },
  );
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await mock.close();
});

describe("the mock upstream speaks Gemini, read by the official @google/genai SDK", () => {
  const ai = () => new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: mock.url } });

  it("answers generateContent on the v1beta path with x-goog-api-key", async () => {
    const res = await ai().models.generateContent({
      model: "gemini-2.0-flash",
      contents: "Hello",
      config: { systemInstruction: "Be brief", temperature: 0 },
    });
    expect(res.text).toBe(ANSWER);
    expect(res.usageMetadata?.promptTokenCount).toBe(11);
    expect(last().path).toBe("/v1beta/models/gemini-2.0-flash:generateContent");
    expect(last().headers["x-goog-api-key"]).toBe("k");
    expect(last().body).toMatchObject({
      contents: [{ role: "user", parts: [{ text: "Hello" }] }],
      systemInstruction: { parts: [{ text: "Be brief" }] },
      generationConfig: { temperature: 0 },
    });
  });

  it("streams with alt=sse", async () => {
    const stream = await ai().models.generateContentStream({ model: "gemini-2.0-flash", contents: "Hello" });
    let text = "";
    let finish: string | undefined;
    for await (const chunk of stream) {
      text += chunk.text ?? "";
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
    }
    expect(text).toBe(ANSWER);
    expect(finish).toBe("STOP");
    expect(last().path).toBe("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
  });

  it("returns a function call", async () => {
    const res = await ai().models.generateContent({
      model: "gemini-2.0-flash",
      contents: "Weather in Paris?",
      config: { tools: [{ functionDeclarations: [{ name: "get_weather", description: "weather" }] }] },
    });
    expect(res.functionCalls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
  });

  it("raises Gemini's errors as ApiError with the status", async () => {
    const err = await ai()
      .models.generateContent({ model: "gemini-429", contents: "Hello" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(429);
    expect((err as ApiError).message).toContain("RESOURCE_EXHAUSTED");
  });
});

describe("type: gemini through the gateway, read by the openai SDK", () => {
  it("answers a plain request, calling generateContent with the key and configured headers", async () => {
    const res = await client.chat.completions.create({ model: "flash", messages, temperature: 0.5, top_p: 0.9 });
    expect(res.choices[0]?.message.content).toBe(ANSWER);
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.id).toBe("chatcmpl-resp-mock-1");
    expect(res.object).toBe("chat.completion");
    expect(res.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 });
    expect(last().path).toBe("/v1beta/models/gemini-2.0-flash:generateContent");
    expect(last().headers["x-goog-api-key"]).toBe("gemini-key-123");
    expect(last().headers["x-custom"]).toBe("yes");
    expect(last().headers.authorization).toBeUndefined();
    expect(last().body).toEqual({
      contents: [{ role: "user", parts: [{ text: "Hello" }] }],
      generationConfig: { temperature: 0.5, topP: 0.9 },
    });
  });

  it("takes a base_url that already names the API version, and a model given as models/<name>", async () => {
    await client.chat.completions.create({ model: "versioned", messages });
    expect(last().path).toBe("/v1beta/models/gemini-1.5-pro:generateContent");
    expect(last().headers["x-goog-api-key"]).toBe("other-key");
  });

  it("refuses content Gemini cannot take with a 400, before calling it", async () => {
    const before = mock.requests.length;
    const err = await client.chat.completions
      .create({
        model: "flash",
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://example.com/a.png" } }] }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages[0].content[0]");
    expect(mock.requests.length).toBe(before);
  });

  it("sends system and developer messages as systemInstruction, merges same-role turns", async () => {
    await client.chat.completions.create({
      model: "flash",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "developer", content: "Answer in French." },
        { role: "user", content: "How are you?" },
        { role: "user", content: [{ type: "text", text: "And today?" }] },
      ],
    });
    expect(last().body).toEqual({
      systemInstruction: { parts: [{ text: "You are terse." }, { text: "Answer in French." }] },
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ text: "Hello!" }] },
        { role: "user", parts: [{ text: "How are you?" }, { text: "And today?" }] },
      ],
    });
  });

  it("streams OpenAI chunks with one id, a role chunk first and finish_reason last, no usage unless asked", async () => {
    const stream = await client.chat.completions.create({ model: "flash", messages, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(last().path).toBe("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(ANSWER);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["chatcmpl-resp-mock-1"]));
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "gemini-2.0-flash")).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it("ends the stream with a usage chunk when include_usage is set", async () => {
    const stream = await client.chat.completions.create({
      model: "flash",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const tail = chunks.at(-1);
    expect(tail?.choices).toEqual([]);
    expect(tail?.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 });
    expect(chunks.filter((c) => c.usage)).toHaveLength(1);
    expect(last().body.stream_options).toBeUndefined();
  });

  it("reports thinking tokens as reasoning and cached tokens, and leaves thought parts out", async () => {
    const res = await client.chat.completions.create({ model: "thinking", messages });
    expect(res.choices[0]?.message.content).toBe(ANSWER);
    expect(res.usage).toMatchObject({
      prompt_tokens: 11,
      completion_tokens: 11,
      total_tokens: 22,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
  });

  it("translates tools and tool_choice, and a function call back to tool_calls", async () => {
    const res = await client.chat.completions.create({
      model: "flash",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      { id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
    ]);
    expect(last().body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "The weather in a city",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        ],
      },
    ]);
    expect(last().body.toolConfig).toEqual({
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] },
    });
  });

  it("maps tool_choice auto, none and required", async () => {
    const modes: Record<string, string> = { auto: "AUTO", none: "NONE", required: "ANY" };
    for (const [choice, mode] of Object.entries(modes)) {
      await client.chat.completions.create({
        model: "flash",
        messages,
        tools: [weatherTool],
        tool_choice: choice as "auto",
      });
      expect(last().body.toolConfig).toEqual({ functionCallingConfig: { mode } });
    }
  });

  it("streams a tool call that assembles in finalChatCompletion", async () => {
    const final = await client.chat.completions
      .stream({ model: "flash", messages: [{ role: "user", content: "Weather?" }], tools: [weatherTool] })
      .finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call).toMatchObject({ id: "call_0", type: "function", function: { name: "get_weather" } });
    expect(JSON.parse((call as { function: { arguments: string } }).function.arguments)).toEqual({ city: "Paris" });
    expect(last().path).toContain(":streamGenerateContent?alt=sse");
  });

  it("sends a tool result back as a functionResponse named after the call", async () => {
    const res = await client.chat.completions.create({
      model: "flash",
      tools: [weatherTool],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_0", content: '{"temp":21}' },
      ],
    });
    expect(res.choices[0]?.message.content).toBe('The tool said {"temp":21}.');
    expect(last().body.contents).toEqual([
      { role: "user", parts: [{ text: "Weather in Paris?" }] },
      { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temp: 21 } } }] },
    ]);
  });

  it("wraps a plain-text tool result as {content}", async () => {
    await client.chat.completions.create({
      model: "flash",
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [{ id: "x1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "x1", content: "sunny" },
      ],
    });
    expect((last().body.contents as unknown[])[1]).toEqual({
      role: "model",
      parts: [{ text: "Checking." }, { functionCall: { name: "get_weather", args: {} } }],
    });
    expect((last().body.contents as unknown[])[2]).toEqual({
      role: "user",
      parts: [{ functionResponse: { name: "get_weather", response: { content: "sunny" } } }],
    });
  });

  it("asks for JSON with response_format json_object and json_schema", async () => {
    const res = await client.chat.completions.create({
      model: "flash",
      messages,
      response_format: { type: "json_object" },
    });
    expect(JSON.parse(res.choices[0]?.message.content ?? "")).toEqual({ answer: "Hello" });
    expect(last().body.generationConfig).toEqual({ responseMimeType: "application/json" });
    await client.chat.completions.create({
      model: "flash",
      messages,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "a",
          strict: true,
          schema: { type: "object", properties: { answer: { type: "string" } }, additionalProperties: false },
        },
      },
    });
    expect(last().body.generationConfig).toEqual({
      responseMimeType: "application/json",
      responseSchema: { type: "object", properties: { answer: { type: "string" } } },
    });
  });

  it("passes stop sequences, seed, penalties and n", async () => {
    const res = await client.chat.completions.create({
      model: "flash",
      messages,
      stop: ["Gemini"],
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      n: 2,
    });
    expect(res.choices.map((c) => c.message.content)).toEqual(["Hello from the mock ", "Hello from the mock "]);
    expect(res.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(last().body.generationConfig).toEqual({
      stopSequences: ["Gemini"],
      seed: 7,
      presencePenalty: 0.1,
      frequencyPenalty: 0.2,
      candidateCount: 2,
    });
    await client.chat.completions.create({ model: "flash", messages, stop: "x" });
    expect(last().body.generationConfig).toEqual({ stopSequences: ["x"] });
  });

  it("reports finish_reason length at max tokens", async () => {
    const res = await client.chat.completions.create({ model: "flash", messages, max_completion_tokens: 2 });
    expect(res.choices[0]?.finish_reason).toBe("length");
    expect(res.choices[0]?.message.content).toBe("Hello from ");
    expect(last().body.generationConfig).toEqual({ maxOutputTokens: 2 });
    await client.chat.completions.create({ model: "flash", messages, max_tokens: 3 });
    expect(last().body.generationConfig).toEqual({ maxOutputTokens: 3 });
  });

  it("sends a data-URL image inline and an https image as fileData", async () => {
    const res = await client.chat.completions.create({
      model: "flash",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.webp?size=2" } },
            { type: "image_url", image_url: { url: "https://example.com/photo" } },
          ],
        },
      ],
    });
    expect(res.choices[0]?.message.content).toBe("I see an image of type image/png.");
    expect(last().body.contents).toEqual([
      {
        role: "user",
        parts: [
          { text: "What is this?" },
          { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
          { fileData: { mimeType: "image/webp", fileUri: "https://example.com/cat.webp?size=2" } },
          { fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/photo" } },
        ],
      },
    ]);
  });

  it("keeps a 429 with its retry-after", async () => {
    const err = await client.chat.completions.create({ model: "limited", messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.headers?.get("retry-after")).toBe("7");
    expect(e.message).toContain("gemini");
    expect(e.message).toContain("Resource has been exhausted");
    expect(e.type).toBe("rate_limit_error");
    expect(e.code).toBe("RESOURCE_EXHAUSTED");
  });

  it("maps 400, 401, 500 and 503 by status, the message kept", async () => {
    const cases: [string, number, unknown, string][] = [
      ["bad", 400, OpenAI.BadRequestError, "Invalid value at 'generation_config.temperature'"],
      ["unauth", 401, OpenAI.AuthenticationError, "invalid authentication credentials"],
      ["broken", 500, OpenAI.InternalServerError, "An internal error has occurred."],
      ["overloaded", 503, OpenAI.InternalServerError, "The model is overloaded."],
    ];
    for (const [model, status, kind, text] of cases) {
      const err = await client.chat.completions.create({ model, messages }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(kind as typeof OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
      expect((err as Error).message).toContain(text);
      expect((err as Error).message).toContain("gemini");
    }
  });

  it("maps errors on the stream path too", async () => {
    const err = await client.chat.completions
      .create({ model: "limited", messages, stream: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toBe("7");
  });

  it("turns an error event inside a stream into an error the SDK throws", async () => {
    const stream = await client.chat.completions.create({ model: "cut", messages, stream: true });
    let text = "";
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe("Hello ");
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain("Stream interrupted.");
  });

  it("refuses a blocked prompt with a 400 content_filter error", async () => {
    for (const stream of [false, true]) {
      const err = await (async () => {
        const res = await client.chat.completions.create({ model: "blocked", messages, stream });
        if (stream) for await (const _ of res as AsyncIterable<unknown>);
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("content_filter");
      expect((err as Error).message).toContain("SAFETY");
    }
  });

  it("drops unsupported parameters with an x-tollgate-warning header", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "flash", messages, logit_bias: { "50256": -100 }, user: "u1", logprobs: true })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(ANSWER);
    const warning = response.headers.get("x-tollgate-warning") ?? "";
    for (const field of ["logit_bias", "user", "logprobs"]) expect(warning).toContain(field);
    expect(last().body).toEqual({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] });

    const streamed = await client.chat.completions
      .create({ model: "flash", messages, stream: true, parallel_tool_calls: false })
      .withResponse();
    for await (const _ of streamed.data);
    expect(streamed.response.headers.get("x-tollgate-warning")).toContain("parallel_tool_calls");
  });

  it("rejects a parameter it cannot honour with a 400, before calling Gemini", async () => {
    const before = mock.requests.length;
    const err = await client.chat.completions
      .create({
        model: "flash",
        messages,
        functions: [{ name: "f", parameters: {} }],
      } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("functions");
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).type).toBe("invalid_request_error");
    expect(mock.requests.length).toBe(before);
  });
});
