import { describe, expect, it } from "vitest";
import type { Usage } from "../../src/openai/schema.js";
import { withStreamUsage } from "../../src/providers/openai/index.js";
import { OpenAIRelay } from "../../src/providers/openai/stream.js";
import type { UpstreamObserver } from "../../src/providers/types.js";

const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
const content = (text: string) =>
  `data: {"id":"c","choices":[{"index":0,"delta":{"content":"${text}"}}],"usage":null}\n\n`;
const usageEvent = `data: {"id":"c","choices":[],"usage":${JSON.stringify(usage)}}\n\n`;
const done = "data: [DONE]\n\n";

function observer() {
  const seen: { usage?: Usage; outcome?: string } = {};
  const o: UpstreamObserver = {
    onFirstByte() {},
    onUsage: (u) => {
      seen.usage = u;
    },
    costOf: () => 0.000123,
    onPartialOutput: () => {},
    onStreamEnd: (outcome) => {
      seen.outcome = outcome;
    },
  };
  return { o, seen };
}

/** Runs upstream chunks through a relay; returns what the client got. */
function relay(chunks: string[], clientWantsUsage: boolean) {
  const { o, seen } = observer();
  const r = new OpenAIRelay(
    { destroy() {}, async *[Symbol.asyncIterator]() {} },
    o,
    (e) => e as never,
    true,
    clientWantsUsage,
  );
  let out = "";
  const dec = new TextDecoder();
  for (const c of chunks) {
    const bytes = r.onChunk(Buffer.from(c));
    if (bytes) out += dec.decode(bytes);
  }
  const end = r.onEnd();
  if (end) out += dec.decode(end);
  return { out, seen };
}

describe("OpenAIRelay, tail re-written", () => {
  it("strips the usage chunk the client did not ask for, and records it", () => {
    const { out, seen } = relay([content("a") + content("b"), usageEvent + done], false);
    expect(out).toBe(content("a") + content("b") + done);
    expect(seen.usage).toEqual(usage);
    expect(seen.outcome).toBe("completed");
  });

  it("adds usage.cost to the usage chunk the client asked for", () => {
    const { out } = relay([content("a"), usageEvent, done], true);
    expect(out).toBe(
      `${content("a")}data: {"id":"c","choices":[],"usage":${JSON.stringify({ ...usage, cost: 0.000123 })}}\n\n${done}`,
    );
  });

  it("holds back events split across chunks until whole, and finds usage split across them", () => {
    const all = content("a") + content("b") + usageEvent + done;
    const pieces = [all.slice(0, 30), all.slice(30, 95), all.slice(95, 170), all.slice(170)];
    const { out, seen } = relay(pieces, false);
    expect(out).toBe(content("a") + content("b") + done);
    expect(seen.usage).toEqual(usage);
  });

  it("relays a content chunk that carries usage too as it came, and records that usage", () => {
    const both = `data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":${JSON.stringify(usage)}}\n\n`;
    const { out, seen } = relay([content("a"), both + done], false);
    expect(out).toBe(content("a") + both + done);
    expect(seen.usage).toEqual(usage);
  });
});

describe("withStreamUsage", () => {
  it("splices stream_options in front when the body has none", () => {
    expect(withStreamUsage('{"model":"m","stream":true}')).toBe(
      '{"stream_options":{"include_usage":true},"model":"m","stream":true}',
    );
  });
  it("merges into stream_options the client sent", () => {
    expect(JSON.parse(withStreamUsage('{"model":"m","stream_options":{"include_usage":false,"x":1}}'))).toEqual({
      model: "m",
      stream_options: { include_usage: true, x: 1 },
    });
    expect(JSON.parse(withStreamUsage('{"model":"m","stream_options":null}')).stream_options).toEqual({
      include_usage: true,
    });
  });
});

describe("OpenAIRelay, a server that puts usage on every chunk (continuous usage stats)", () => {
  const withUsage = (text: string, n: number) =>
    `data: {"id":"c","choices":[{"index":0,"delta":{"content":"${text}"}}],"usage":{"prompt_tokens":5,"completion_tokens":${n},"total_tokens":${5 + n}}}\n\n`;

  it("relays each chunk as it comes instead of holding the stream, and records the last usage", () => {
    const { o, seen } = observer();
    const r = new OpenAIRelay({ destroy() {}, async *[Symbol.asyncIterator]() {} }, o, (e) => e as never, true, false);
    const first = r.onChunk(Buffer.from(withUsage("a", 1)));
    expect(first && new TextDecoder().decode(first)).toBe(withUsage("a", 1)); // not held back
    r.onChunk(Buffer.from(withUsage("b", 2)));
    r.onChunk(Buffer.from(done));
    r.onEnd();
    expect(seen.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
  });
});
