import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

// The fake upstream is only worth its tests if the official SDK reads it exactly as it reads OpenAI.
let mock: OpenAIMock;
let client: OpenAI;

beforeAll(async () => {
  mock = await startOpenAIMock({ chunks: 5 });
  client = new OpenAI({ baseURL: mock.url, apiKey: "sk-test", maxRetries: 0 });
});
afterAll(() => mock.close());

describe("the OpenAI mock upstream, read by the official SDK", () => {
  const messages = [{ role: "user" as const, content: "hi" }];

  it("answers a chat completion", async () => {
    const res = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]?.message).toMatchObject({ role: "assistant", content: "Hello from the mock upstream." });
    expect(res.usage?.total_tokens).toBe(18);
  });

  it("streams chunks with a usage chunk and [DONE]", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks).toHaveLength(8); // role, 5 content, finish, usage
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(5);
  });

  it("streams a tool call the SDK's helper assembles", async () => {
    const final = await client.chat.completions
      .stream({ model: "gpt-4o-mini", messages, tools: [{ type: "function", function: { name: "f" } }] })
      .finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls?.[0]?.function).toEqual({ name: "f", arguments: '{"city":"Paris"}' });
  });

  it("fails the way OpenAI fails", async () => {
    await expect(client.chat.completions.create({ model: "mock-429", messages })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    await expect(client.chat.completions.create({ model: "mock-500", messages })).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
  });

  it("answers embeddings in float and base64", async () => {
    const res = await client.embeddings.create({ model: "text-embedding-3-small", input: "x" });
    expect(res.data[0]?.embedding).toHaveLength(4);
    const floats = await client.embeddings.create({ model: "e", input: "x", encoding_format: "float" });
    expect(floats.data[0]?.embedding).toEqual([0.1, 0.2, 0.3, 0.4]);
  });
});
