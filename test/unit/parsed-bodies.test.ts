import { describe, expect, it } from "vitest";
import { ChatCompletionRequestSchema } from "../../src/openai/schema.js";
import { parseBody } from "../../src/server/http.js";
import { ParsedBodies } from "../../src/server/parsed-bodies.js";

const raw = (content: string) =>
  JSON.stringify({ model: "smart", messages: [{ role: "user", content }], tools: [{ type: "function" }] });

function counting(maxChars?: number, maxBodyChars?: number) {
  let parses = 0;
  const bodies = new ParsedBodies(
    (text) => {
      parses++;
      return parseBody(text, ChatCompletionRequestSchema);
    },
    maxChars,
    maxBodyChars,
  );
  return { bodies, parses: () => parses };
}

describe("ParsedBodies", () => {
  it("parses the same bytes once and gives the same validated request", () => {
    const { bodies, parses } = counting();
    const first = bodies.get(raw("hello"));
    // A fresh string with the same text, as each request reads its own.
    const again = bodies.get(`${raw("hello")} `.trimEnd());
    expect(again).toBe(first);
    expect(parses()).toBe(1);
    expect(first).toEqual(parseBody(raw("hello"), ChatCompletionRequestSchema));
    expect(bodies.get(raw("bye")).messages[0]?.content).toBe("bye");
    expect(parses()).toBe(2);
  });

  it("deep-freezes what it gives, so no request can change another's", () => {
    const { bodies } = counting();
    const body = bodies.get(raw("hello"));
    expect(Object.isFrozen(body)).toBe(true);
    expect(Object.isFrozen(body.messages)).toBe(true);
    expect(Object.isFrozen(body.messages[0])).toBe(true);
    expect(Object.isFrozen(body.tools?.[0])).toBe(true);
    expect(() => {
      (body as { temperature?: number }).temperature = 2;
    }).toThrow(TypeError);
    expect(() => (body.messages as unknown[]).push({ role: "user", content: "more" })).toThrow(TypeError);
    expect(bodies.get(raw("hello")).temperature).toBeUndefined();
  });

  it("never keeps a body that fails: its 400 comes back each time", () => {
    const { bodies, parses } = counting();
    for (let i = 0; i < 2; i++) expect(() => bodies.get('{"model":"smart"}')).toThrow(/messages/);
    expect(() => bodies.get("{not json")).toThrow(/could not parse/);
    expect(parses()).toBe(3);
    expect(bodies.size).toBe(0);
  });

  it("holds at most its characters' worth, the oldest going first, and not long bodies at all", () => {
    const { bodies, parses } = counting(2_000, 500);
    for (let i = 0; i < 100; i++) bodies.get(raw(`question ${i}`));
    const perBody = raw("question 50").length;
    expect(bodies.size).toBeLessThanOrEqual(Math.floor(2_000 / perBody));
    expect(bodies.size).toBeGreaterThan(0);
    const before = parses();
    bodies.get(raw("question 99"));
    expect(parses()).toBe(before);
    bodies.get(raw("question 0"));
    expect(parses()).toBe(before + 1);

    const long = raw("x".repeat(600));
    const size = bodies.size;
    const parsed = bodies.get(long);
    expect(Object.isFrozen(parsed)).toBe(true);
    bodies.get(long);
    expect(parses()).toBe(before + 3);
    expect(bodies.size).toBe(size);
  });
});
