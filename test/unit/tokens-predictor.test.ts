import { describe, expect, it } from "vitest";
import { AccuracyTracker, CompletionPredictor, relativeError } from "../../src/tokens/index.js";

describe("CompletionPredictor", () => {
  it("answers the defaults with no history, bounded by max_tokens", () => {
    const predictor = new CompletionPredictor();
    expect(predictor.predict("chat")).toEqual({ expected: 256, upper: 1024, source: "default", samples: 0 });
    expect(predictor.predict("chat", undefined, 100)).toEqual({
      expected: 100,
      upper: 100,
      source: "default",
      samples: 0,
    });
  });

  it("predicts the median and reserves the p95 of the alias's history when max_tokens is unset", () => {
    const predictor = new CompletionPredictor();
    for (let i = 1; i <= 100; i++) predictor.observe("chat", undefined, i * 10); // 10..1000
    expect(predictor.predict("chat")).toEqual({ expected: 500, upper: 950, source: "alias", samples: 100 });
  });

  it("reserves max_tokens when set and never expects more than it", () => {
    const predictor = new CompletionPredictor();
    for (let i = 1; i <= 100; i++) predictor.observe("chat", undefined, i * 10);
    expect(predictor.predict("chat", undefined, 2000)).toMatchObject({ expected: 500, upper: 2000 });
    expect(predictor.predict("chat", undefined, 300)).toMatchObject({ expected: 300, upper: 300 });
  });

  it("uses a key's own history once it has enough samples, the alias's before", () => {
    const predictor = new CompletionPredictor({ minKeySamples: 20 });
    for (let i = 0; i < 200; i++) predictor.observe("chat", `other-${i % 5}`, 100);
    for (let i = 0; i < 19; i++) predictor.observe("chat", "essayist", 4000);
    expect(predictor.predict("chat", "essayist")).toMatchObject({ expected: 100, source: "alias" });
    predictor.observe("chat", "essayist", 4000);
    expect(predictor.predict("chat", "essayist")).toEqual({ expected: 4000, upper: 4000, source: "key", samples: 20 });
    expect(predictor.predict("chat", "newcomer")).toMatchObject({ expected: 100, source: "alias" });
  });

  it("keeps a bounded window: old behaviour ages out, memory per key stays fixed", () => {
    const predictor = new CompletionPredictor({ window: 50 });
    for (let i = 0; i < 50; i++) predictor.observe("chat", undefined, 1000);
    for (let i = 0; i < 50; i++) predictor.observe("chat", undefined, 20);
    expect(predictor.predict("chat")).toEqual({ expected: 20, upper: 20, source: "alias", samples: 50 });
  });

  it("forgets the least recently seen keys beyond maxKeys", () => {
    const predictor = new CompletionPredictor({ minKeySamples: 1, maxKeys: 2 });
    predictor.observe("chat", "a", 1);
    predictor.observe("chat", "b", 2);
    predictor.observe("chat", "a", 1);
    predictor.observe("chat", "c", 3);
    expect(predictor.predict("chat", "a").source).toBe("key");
    expect(predictor.predict("chat", "b").source).toBe("alias");
    expect(predictor.predict("chat", "c").source).toBe("key");
  });
});

describe("accuracy tracking", () => {
  it("computes relative error with its sign, and handles zero actuals", () => {
    expect(relativeError(110, 100)).toBeCloseTo(0.1, 12);
    expect(relativeError(90, 100)).toBeCloseTo(-0.1, 12);
    expect(relativeError(0, 0)).toBe(0);
    expect(relativeError(5, 0)).toBe(1);
  });

  it("summarises per model and metric, and reports every sample to the observer (for a histogram)", () => {
    const seen: Array<{ model: string; metric: string; relativeError: number }> = [];
    const tracker = new AccuracyTracker((sample) => seen.push(sample));
    for (let i = 1; i <= 10; i++) tracker.record("gpt-4o", "prompt_tokens", 100, 100);
    for (let i = 1; i <= 10; i++) tracker.record("claude-sonnet-4-5", "prompt_tokens", 100 + i, 100); // +1%..+10%
    tracker.record("claude-sonnet-4-5", "cost", 0.9, 1);
    const summary = tracker.summary();
    expect(summary["gpt-4o"]?.prompt_tokens).toEqual({
      count: 10,
      meanAbsError: 0,
      p50AbsError: 0,
      p90AbsError: 0,
      bias: 0,
    });
    const claude = summary["claude-sonnet-4-5"]?.prompt_tokens;
    expect(claude?.count).toBe(10);
    expect(claude?.meanAbsError).toBeCloseTo(0.055, 10);
    expect(claude?.p50AbsError).toBeCloseTo(0.05, 10);
    expect(claude?.p90AbsError).toBeCloseTo(0.09, 10);
    expect(summary["claude-sonnet-4-5"]?.cost?.bias).toBeCloseTo(-0.1, 10);
    expect(seen).toHaveLength(21);
    expect(seen[20]).toEqual({ model: "claude-sonnet-4-5", metric: "cost", relativeError: expect.closeTo(-0.1, 10) });
  });
});
