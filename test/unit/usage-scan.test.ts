import { describe, expect, it } from "vitest";
import { UsageScanner } from "../../src/providers/openai/usage-scan.js";

const chunk = (i: number) =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"t${i} \\"usage\\":{"},"finish_reason":null}],"usage":null}\n\n`;
const usageEvent =
  'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":2}}}\n\n';
const sse = `${chunk(0)}${chunk(1)}${chunk(2)}${usageEvent}data: [DONE]\n\n`;
const expected = {
  prompt_tokens: 11,
  completion_tokens: 3,
  total_tokens: 14,
  prompt_tokens_details: { cached_tokens: 2 },
};

function scan(parts: string[]) {
  const scanner = new UsageScanner();
  for (const p of parts) scanner.feed(Buffer.from(p));
  return scanner.finish();
}

describe("UsageScanner", () => {
  it("finds the usage event whole", () => {
    expect(scan([sse])).toEqual(expected);
  });

  it("finds it however the bytes are split into two chunks", () => {
    for (let at = 1; at < sse.length; at++) {
      expect([at, scan([sse.slice(0, at), sse.slice(at)])]).toEqual([at, expected]);
    }
  });

  it("finds it when every byte is its own chunk", () => {
    expect(scan([...sse])).toEqual(expected);
  });

  it("reads CRLF-framed streams and a last event without its blank line", () => {
    expect(scan([sse.replaceAll("\n", "\r\n")])).toEqual(expected);
    expect(scan([chunk(0), usageEvent.trimEnd()])).toEqual(expected);
  });

  it("answers undefined when there is no usage event", () => {
    expect(scan([chunk(0), chunk(1), "data: [DONE]\n\n"])).toBeUndefined();
  });
});
