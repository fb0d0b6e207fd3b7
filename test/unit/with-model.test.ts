import { describe, expect, it } from "vitest";
import { withModel } from "../../src/providers/openai/index.js";

const swap = (raw: string, upstream = "gpt-4o-mini") => withModel(raw, JSON.parse(raw) as { model: string }, upstream);

describe("withModel (the alias swapped for the upstream model)", () => {
  it.each([
    ['{"model":"fast","messages":[{"role":"user","content":"hi"}]}'],
    ['{"messages":[{"role":"user","content":"hi"}],  "model" :  "fast" , "n":1}'],
    ['{"model":"fast","messages":[{"role":"user","content":"say \\"model\\": \\"fast\\""}]}'],
    [
      '{"model":"fast","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{"model":{"type":"string"}}}}}]}',
    ],
    ['{"metadata":{"model":"fast"},"model":"fast","messages":[]}'],
    ['{"model":"f\\u0061st","messages":[]}'],
    ['{"model":"fast","messages":[{"role":"user","content":"model"}]}'],
    ['{"model":"we\\"ird/алиас","messages":[]}'],
    ['{"\\u006dodel":"fast","metadata":{"model":"fast"},"messages":[]}'],
  ])("gives the same document with only the model changed: %s", (raw) => {
    const out = swap(raw);
    expect(JSON.parse(out)).toEqual({ ...JSON.parse(raw), model: "gpt-4o-mini" });
  });

  it("keeps every other byte when it can splice", () => {
    const raw = '{"messages":[{"role":"user","content":"hi"}],  "model" :  "fast" , "n":1}';
    expect(swap(raw)).toBe('{"messages":[{"role":"user","content":"hi"}],  "model" :  "gpt-4o-mini" , "n":1}');
  });

  it("escapes an upstream model name that needs it", () => {
    expect(JSON.parse(swap('{"model":"a","messages":[]}', 'q"uote')).model).toBe('q"uote');
  });

  it("returns the body itself when the names are the same", () => {
    const raw = '{"model":"gpt-4o-mini", "messages":[]}';
    expect(swap(raw)).toBe(raw);
  });
});
