import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../../src/openai/schema.js";
import {
  JsonFileRatioStore,
  PromptTokenEstimator,
  type RatioState,
  type RatioStore,
  seedRatio,
  TokenCalibrator,
  type TokenWorkerPool,
} from "../../src/tokens/index.js";

/** A deterministic spread of ±6% around the true ratio, like varied prompts. */
const noisy = (i: number, ratio: number) => ratio * (1 + 0.06 * Math.sin(i * 2.3));

describe("TokenCalibrator", () => {
  it("starts from documented seeds: 1 for OpenAI, more for Claude, by family on Bedrock", () => {
    expect(seedRatio("openai", "gpt-4o")).toBe(1);
    expect(seedRatio("anthropic", "claude-sonnet-4-5")).toBe(1.15);
    expect(seedRatio("gemini", "gemini-2.5-pro")).toBe(1.05);
    expect(seedRatio("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0")).toBe(1.15);
    expect(seedRatio("bedrock", "meta.llama3-70b-instruct-v1:0")).toBe(1);
    expect(seedRatio("bedrock", "amazon.nova-pro-v1:0")).toBe(1.1);
    expect(new TokenCalibrator().estimate("anthropic", "claude-sonnet-4-5", 1000)).toBe(1150);
  });

  it("converges to a true ratio of 1.3 within 5% after at most 40 observations, and stays there", () => {
    const calibrator = new TokenCalibrator();
    let convergedAt = -1;
    for (let i = 1; i <= 200; i++) {
      const tiktoken = 200 + ((i * 137) % 3000);
      calibrator.observe("anthropic", "claude-sonnet-4-5", tiktoken, Math.round(tiktoken * noisy(i, 1.3)));
      const error = Math.abs(calibrator.ratio("anthropic", "claude-sonnet-4-5") / 1.3 - 1);
      if (error <= 0.05 && convergedAt < 0) convergedAt = i;
      if (convergedAt > 0) expect(error).toBeLessThanOrEqual(0.05);
    }
    expect(convergedAt).toBeGreaterThan(0);
    expect(convergedAt).toBeLessThanOrEqual(40);
    expect(calibrator.estimate("anthropic", "claude-sonnet-4-5", 10_000)).toBeGreaterThan(10_000 * 1.3 * 0.95);
  });

  it("follows a drift from 1.1 to 1.3 within a few dozen requests", () => {
    const calibrator = new TokenCalibrator();
    for (let i = 0; i < 100; i++) calibrator.observe("gemini", "gemini-2.5-flash", 1000, 1100);
    for (let i = 0; i < 40; i++) calibrator.observe("gemini", "gemini-2.5-flash", 1000, 1300);
    expect(Math.abs(calibrator.ratio("gemini", "gemini-2.5-flash") / 1.3 - 1)).toBeLessThan(0.05);
  });

  it("ignores impossible samples and keeps (provider, model) pairs apart", () => {
    const calibrator = new TokenCalibrator();
    calibrator.observe("anthropic", "claude-haiku-4-5", 1000, 0);
    calibrator.observe("anthropic", "claude-haiku-4-5", 0, 500);
    calibrator.observe("anthropic", "claude-haiku-4-5", 10, 5000);
    expect(calibrator.snapshot()).toEqual({});
    calibrator.observe("anthropic", "claude-haiku-4-5", 1000, 1400);
    expect(calibrator.ratio("anthropic", "claude-haiku-4-5")).toBeCloseTo((1.15 + 1.4) / 2, 10);
    expect(calibrator.ratio("bedrock", "claude-haiku-4-5")).toBe(1.15);
  });
});

describe("ratio persistence", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("saves learned ratios to a JSON file (debounced, one write for many observations) and loads them back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-ratios-"));
    dirs.push(dir);
    const path = join(dir, "nested", "ratios.json");
    const store = new JsonFileRatioStore(path, 20);
    let saves = 0;
    const counting: RatioStore = {
      load: () => store.load(),
      save: (all) => {
        saves++;
        return store.save(all);
      },
      flush: () => store.flush(),
    };
    expect(await store.load()).toEqual({});
    const first = new TokenCalibrator({ store: counting });
    for (let i = 0; i < 30; i++) first.observe("anthropic", "claude-sonnet-4-5", 1000, 1300);
    expect(saves).toBe(0); // the calibrator hands the store one snapshot a second, not one per observation
    await first.flush();
    const written = JSON.parse(await readFile(path, "utf8")) as Record<string, RatioState>;
    expect(saves).toBe(1);
    expect(written["anthropic:claude-sonnet-4-5"]?.samples).toBe(30);

    const second = new TokenCalibrator({ store: new JsonFileRatioStore(path) });
    await second.load();
    expect(second.ratio("anthropic", "claude-sonnet-4-5")).toBe(first.ratio("anthropic", "claude-sonnet-4-5"));
  });

  it("writes what a pending debounce holds on flush (shutdown)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-ratios-"));
    dirs.push(dir);
    const path = join(dir, "ratios.json");
    const calibrator = new TokenCalibrator({ store: new JsonFileRatioStore(path, 60_000) });
    calibrator.observe("gemini", "gemini-2.5-pro", 1000, 1000);
    await calibrator.flush();
    const written = JSON.parse(await readFile(path, "utf8")) as Record<string, RatioState>;
    expect(written["gemini:gemini-2.5-pro"]?.samples).toBe(1);
  });
});

describe("PromptTokenEstimator", () => {
  it("bills OpenAI the exact tiktoken count and others the calibrated one, learning from reported usage", async () => {
    const estimator = new PromptTokenEstimator();
    const request = { model: "x", messages: [{ role: "user", content: "Hello there" }] } as ChatCompletionRequest;
    try {
      const openai = await estimator.estimate(request, "openai", "gpt-4o");
      expect(openai).toEqual({
        tokens: openai.tiktokenTokens,
        tiktokenTokens: 9,
        encoding: "o200k_base",
        exact: true,
      });
      const claude = await estimator.estimate(request, "anthropic", "claude-sonnet-4-5");
      expect(claude).toMatchObject({ tokens: Math.ceil(9 * 1.15), tiktokenTokens: 9, exact: false });
      for (let i = 0; i < 40; i++) estimator.observe("anthropic", "claude-sonnet-4-5", 1000, 1300);
      expect((await estimator.estimate(request, "anthropic", "claude-sonnet-4-5")).tokens).toBe(Math.ceil(9 * 1.3));
    } finally {
      await estimator.close();
    }
  });

  it("counts a request object once per model: a repeated body arrives as the same object", async () => {
    let pooled = 0;
    const pool = {
      count: (texts: string[]) => {
        pooled++;
        return Promise.resolve(texts.length * 100);
      },
      close: () => Promise.resolve(),
    } as unknown as TokenWorkerPool;
    // Every prompt goes to the (fake) pool, so each real count is seen.
    const estimator = new PromptTokenEstimator({ pool, inlineCharLimit: 0 });
    const request = { model: "x", messages: [{ role: "user", content: "Hello there" }] } as ChatCompletionRequest;
    const first = await estimator.estimate(request, "openai", "gpt-4o");
    expect(await estimator.estimate(request, "anthropic", "gpt-4o")).toMatchObject({ tiktokenTokens: 206 });
    expect(pooled).toBe(1);
    expect(first.tiktokenTokens).toBe(206); // two texts (role, content) at 100 each, 6 framing tokens
    // Another model may tokenize differently; an equal but separate object is counted afresh.
    await estimator.estimate(request, "openai", "gpt-4");
    await estimator.estimate({ ...request }, "openai", "gpt-4o");
    expect(pooled).toBe(3);
  });
});
