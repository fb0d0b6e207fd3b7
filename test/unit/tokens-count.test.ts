import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../../src/openai/schema.js";
import {
  countPromptTokens,
  countTextTokens,
  encodingForModel,
  imageSizeFromDataUrl,
  imageTokens,
} from "../../src/tokens/index.js";
import { COOKBOOK_MESSAGES } from "../fixtures/cookbook.js";

const request = (model: string, messages: unknown[], extra: Record<string, unknown> = {}) =>
  ({ model, messages, ...extra }) as ChatCompletionRequest;

// Section 7 of the same cookbook: 105 tokens on gpt-3.5-turbo / gpt-4, 101 on gpt-4o / gpt-4o-mini.
const WEATHER_TOOLS = [
  {
    type: "function",
    function: {
      name: "get_current_weather",
      description: "Get the current weather in a given location",
      parameters: {
        type: "object",
        properties: {
          location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
          unit: { type: "string", description: "The unit of temperature to return", enum: ["celsius", "fahrenheit"] },
        },
        required: ["location"],
      },
    },
  },
];
const WEATHER_MESSAGES = [
  { role: "system", content: "You are a helpful assistant that can answer to questions about the weather." },
  { role: "user", content: "What's the weather like in San Francisco?" },
];

/** A PNG's first 33 bytes (signature + IHDR) as a data URL: all the counter reads. */
function pngDataUrl(width: number, height: number): string {
  const bytes = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0);
  bytes.writeUInt32BE(13, 8);
  bytes.write("IHDR", 12, "latin1");
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  bytes.writeUInt8(8, 24);
  bytes.writeUInt8(6, 25);
  return `data:image/png;base64,${bytes.toString("base64")}`;
}

function jpegDataUrl(width: number, height: number): string {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from("JFIF\0"), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const sof0 = Buffer.alloc(19);
  sof0.set([0xff, 0xc0, 0x00, 0x11, 8]);
  sof0.writeUInt16BE(height, 5);
  sof0.writeUInt16BE(width, 7);
  return `data:image/jpeg;base64,${Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof0]).toString("base64")}`;
}

const imageMessage = (url: string, detail?: string) => [
  { role: "user", content: [{ type: "image_url", image_url: detail ? { url, detail } : { url } }] },
];

describe("countPromptTokens on OpenAI's published examples", () => {
  it.each([
    ["gpt-3.5-turbo", 129, "cl100k_base"],
    ["gpt-4-0613", 129, "cl100k_base"],
    ["gpt-4", 129, "cl100k_base"],
    ["gpt-4o", 124, "o200k_base"],
    ["gpt-4o-mini", 124, "o200k_base"],
  ])("counts the cookbook's example messages on %s as %i tokens, exactly", (model, tokens, encoding) => {
    expect(countPromptTokens(request(model, COOKBOOK_MESSAGES))).toEqual({ tokens, encoding, exact: true });
  });

  it.each([
    ["gpt-3.5-turbo", 105],
    ["gpt-4", 105],
    ["gpt-4o", 101],
    ["gpt-4o-mini", 101],
  ])("counts the cookbook's weather tool example on %s as %i tokens (marked inexact)", (model, tokens) => {
    const count = countPromptTokens(request(model, WEATHER_MESSAGES, { tools: WEATHER_TOOLS }));
    expect(count.tokens).toBe(tokens);
    expect(count.exact).toBe(false);
  });

  it("adds 3 per message, 1 per name, 3 for the reply priming, around the encoded role, name and content", () => {
    const plain = countPromptTokens(request("gpt-4o", [{ role: "user", content: "Hello there" }]));
    const hello = countTextTokens("Hello there", "o200k_base") + countTextTokens("user", "o200k_base");
    expect(plain.tokens).toBe(3 + hello + 3);
    const named = countPromptTokens(request("gpt-4o", [{ role: "user", name: "alice", content: "Hello there" }]));
    expect(named.tokens - plain.tokens).toBe(1 + countTextTokens("alice", "o200k_base"));
  });

  it("counts text parts like string content and special-token text as plain text", () => {
    const asString = countPromptTokens(request("gpt-4o", [{ role: "user", content: "ab <|endoftext|> cd" }]));
    const asParts = countPromptTokens(
      request("gpt-4o", [{ role: "user", content: [{ type: "text", text: "ab <|endoftext|> cd" }] }]),
    );
    expect(asParts).toEqual(asString);
    expect(asString.tokens).toBeGreaterThan(3 + 3 + 3);
  });

  it("gives the same counts from its memory of texts as fresh, across encodings and after it evicts", () => {
    const texts = Array.from({ length: 300 }, (_, i) => `${"word ".repeat(700)}${i} tokens, C++ and C# differ.`);
    const first = texts.map((t) => [countTextTokens(t, "o200k_base"), countTextTokens(t, "cl100k_base")]);
    // 300 texts of ~3.5k chars in two encodings pass the 1M-character bound: the oldest were dropped.
    const again = texts.map((t) => [
      countTextTokens(`${t} `.trimEnd(), "o200k_base"),
      countTextTokens(t, "cl100k_base"),
    ]);
    expect(again).toEqual(first);
    expect(countTextTokens(texts[0] as string, "o200k_base")).toBe(first[0]?.[0]);
  });
});

describe("encodingForModel", () => {
  it.each([
    ["gpt-4o-2024-08-06", "o200k_base"],
    ["gpt-4.1-mini", "o200k_base"],
    ["o1-preview", "o200k_base"],
    ["o3-mini", "o200k_base"],
    ["o4-mini", "o200k_base"],
    ["gpt-5", "o200k_base"],
    ["openai/gpt-4o", "o200k_base"],
    ["ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"],
    ["gpt-4-turbo", "cl100k_base"],
    ["gpt-4-0613", "cl100k_base"],
    ["gpt-3.5-turbo-0125", "cl100k_base"],
    ["gpt-35-turbo", "cl100k_base"],
    ["text-embedding-3-small", "cl100k_base"],
    ["text-davinci-003", "p50k_base"],
  ])("%s uses %s", (model, encoding) => {
    expect(encodingForModel(model)).toEqual({ encoding, known: true });
  });

  it("falls back to o200k_base for unknown models and says the count is not exact", () => {
    expect(encodingForModel("claude-sonnet-4")).toEqual({ encoding: "o200k_base", known: false });
    expect(countPromptTokens(request("claude-sonnet-4", COOKBOOK_MESSAGES))).toEqual({
      tokens: 124,
      encoding: "o200k_base",
      exact: false,
    });
  });
});

describe("image parts", () => {
  it("reads width and height from PNG and JPEG data URL headers", () => {
    expect(imageSizeFromDataUrl(pngDataUrl(1024, 768))).toEqual({ width: 1024, height: 768 });
    expect(imageSizeFromDataUrl(jpegDataUrl(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageSizeFromDataUrl("data:image/png;base64,AAAA")).toBeUndefined();
  });

  it("follows OpenAI's vision guide examples: 1024x1024 high = 765, 2048x4096 high = 1105, low = 85", () => {
    expect(imageTokens("gpt-4o", "high", { width: 1024, height: 1024 })).toBe(765);
    expect(imageTokens("gpt-4o", "high", { width: 2048, height: 4096 })).toBe(1105);
    expect(imageTokens("gpt-4o", "low", { width: 4096, height: 8192 })).toBe(85);
    expect(imageTokens("gpt-4o", "high", { width: 128, height: 64 })).toBe(255);
    expect(imageTokens("gpt-4o-mini", "high", { width: 128, height: 64 })).toBe(8500);
  });

  it("adds 85 for a low-detail image and 85 + 170 per tile for a high-detail PNG of known size", () => {
    const text = countPromptTokens(request("gpt-4o", [{ role: "user", content: [] }]));
    const low = countPromptTokens(request("gpt-4o", imageMessage(pngDataUrl(4096, 8192), "low")));
    expect(low).toEqual({ tokens: text.tokens + 85, encoding: "o200k_base", exact: true });
    const high = countPromptTokens(request("gpt-4o", imageMessage(pngDataUrl(2048, 4096), "high")));
    expect(high).toEqual({ tokens: text.tokens + 1105, encoding: "o200k_base", exact: true });
  });

  it("assumes the costliest high-detail shape (8 tiles) for a URL it cannot measure, and says so", () => {
    const text = countPromptTokens(request("gpt-4o", [{ role: "user", content: [] }]));
    const remote = countPromptTokens(request("gpt-4o", imageMessage("https://example.com/cat.png")));
    expect(remote).toEqual({ tokens: text.tokens + 85 + 8 * 170, encoding: "o200k_base", exact: false });
  });
});
