import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  GENAI_PRICES_DATA_URL,
  importLiteLLM,
  importOpenRouter,
  loadPricingFile,
  PricingConfigSchema,
  PricingFileError,
  validatePricingFile,
} from "../../src/pricing/index.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(`test/fixtures/pricing/${name}`, "utf8"));

describe("LiteLLM importer", () => {
  const entries = importLiteLLM(fixture("litellm.json"));
  const find = (provider: string, model: string, region?: string) =>
    entries.find((e) => e.provider === provider && e.model === model && e.region === region);

  it("keeps chat models with token prices and skips sample_spec, embeddings and image models", () => {
    expect(entries).toHaveLength(7);
    expect(entries.some((e) => e.model.includes("embedding") || e.model.includes("dall-e"))).toBe(false);
  });

  it("converts per-token prices to per-million and reads limits and capabilities", () => {
    expect(find("openai", "gpt-4o")).toEqual({
      provider: "openai",
      model: "gpt-4o",
      region: undefined,
      inputPerMTok: 2.5,
      outputPerMTok: 10,
      cacheReadPerMTok: 1.25,
      cacheWritePerMTok: undefined,
      tiers: undefined,
      contextWindow: 128000,
      maxOutput: 16384,
      capabilities: { tools: true, vision: true, jsonMode: true, streaming: undefined },
    });
    expect(find("anthropic", "claude-3-5-sonnet-20241022")).toMatchObject({
      inputPerMTok: 3,
      outputPerMTok: 15,
      cacheReadPerMTok: 0.3,
      cacheWritePerMTok: 3.75,
    });
  });

  it("maps provider prefixes and Bedrock regions", () => {
    expect(find("azure", "gpt-4o")?.inputPerMTok).toBe(2.5);
    expect(find("bedrock", "meta.llama3-1-70b-instruct-v1:0", "us-west-2")?.inputPerMTok).toBe(0.99);
    expect(find("bedrock", "meta.llama3-1-70b-instruct-v1:0")?.inputPerMTok).toBe(0.72);
  });

  it("reads long-context tiers from *_above_<N>k_tokens", () => {
    expect(find("gemini", "gemini-1.5-pro")?.tiers).toEqual([{ start: 128000, inputPerMTok: 2.5, outputPerMTok: 10 }]);
    expect(find("anthropic", "claude-sonnet-4-20250514")?.tiers).toEqual([
      { start: 200000, inputPerMTok: 6, outputPerMTok: 22.5, cacheReadPerMTok: 0.6, cacheWritePerMTok: 7.5 },
    ]);
  });

  it("rejects garbage", () => {
    expect(() => importLiteLLM({ "gpt-4o": 3 })).toThrow();
    expect(() => importLiteLLM([1, 2, 3])).toThrow();
    expect(() => importLiteLLM({ sample_spec: {} })).toThrow(/no chat model/);
  });
});

describe("OpenRouter importer", () => {
  const entries = importOpenRouter(fixture("openrouter.json"));

  it("converts USD-per-token strings, skips variable-price routers", () => {
    expect(entries.map((e) => e.model)).toEqual([
      "openai/gpt-4o",
      "anthropic/claude-3.5-haiku",
      "meta-llama/llama-3.1-70b-instruct",
    ]);
    expect(entries[0]).toEqual({
      provider: "openai-compatible",
      model: "openai/gpt-4o",
      inputPerMTok: 2.5,
      outputPerMTok: 10,
      cacheReadPerMTok: 1.25,
      cacheWritePerMTok: undefined,
      contextWindow: 128000,
      maxOutput: 16384,
      capabilities: { tools: true, vision: true, jsonMode: true, streaming: true },
    });
    expect(entries[1]).toMatchObject({
      inputPerMTok: 0.8,
      outputPerMTok: 4,
      cacheReadPerMTok: 0.08,
      cacheWritePerMTok: 1,
    });
    expect(entries[2]).toMatchObject({ inputPerMTok: 0.1, outputPerMTok: 0.28, contextWindow: 131072 });
    expect(entries[2]?.capabilities).toMatchObject({ vision: false, jsonMode: true });
  });

  it("rejects garbage", () => {
    expect(() => importOpenRouter({ data: "nope" })).toThrow();
    expect(() => importOpenRouter({ data: [{ id: "x", pricing: { prompt: "cheap", completion: "1" } }] })).toThrow();
    expect(() => importOpenRouter({ data: [] })).toThrow(/no priced model/);
  });
});

describe("pricing config and files", () => {
  it("fills every default of the routes.yaml pricing section", () => {
    const c = PricingConfigSchema.parse({});
    expect(c).toMatchObject({
      cache_dir: ".tollgate/pricing-cache",
      max_change_factor: 10,
      unknown_price: "allow",
      batch_discount: 0.5,
      retries: 3,
    });
    expect(c.sources).toEqual([
      { url: GENAI_PRICES_DATA_URL, format: "genai-prices", interval_s: 3600, timeout_ms: 10000, enabled: true },
    ]);
    const s = PricingConfigSchema.parse({ sources: [{ url: "https://example.com/p.json", format: "litellm" }] });
    expect(s.sources[0]).toMatchObject({ interval_s: 3600, timeout_ms: 10000, enabled: true });
  });

  it("describes every field", () => {
    for (const [name, field] of Object.entries(PricingConfigSchema.shape)) expect(field.description, name).toBeTruthy();
  });

  it("names the file, the path and what was expected when an override file is wrong", async () => {
    const err = await loadPricingFile("test/fixtures/pricing/bad-overrides.yaml").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PricingFileError);
    expect((err as PricingFileError).problems[0]).toMatch(
      /^test\/fixtures\/pricing\/bad-overrides\.yaml: overrides\.0\.input_per_mtok: .*expected number/,
    );
    expect(() => validatePricingFile("x.yaml", { models: [{ model: "m", quality: { score: 1 } }] })).toThrow(
      /x\.yaml: models\.0\.quality\.source: /,
    );
    expect(() => validatePricingFile("x.yaml", { overrides: [{ provider: "openai", model: "m", typo: 1 }] })).toThrow(
      /x\.yaml: overrides\.0: .*typo/,
    );
  });

  it("ships model data with a sourced quality score for the common models", async () => {
    const { models } = await loadPricingFile("pricing/models.yaml");
    const names = models.map((m) => m.model);
    for (const m of [
      "gpt-4o",
      "gpt-4o-mini",
      "gpt-4.1",
      "gpt-4.1-mini",
      "o3-mini",
      "claude-3-5-sonnet",
      "claude-3-5-haiku",
      "claude-sonnet-4",
      "gemini-2.0-flash",
      "gemini-1.5-pro",
      "gemini-2.5-pro",
      "llama-3.1-70b",
    ])
      expect(names).toContain(m);
    for (const m of models) expect(m.quality?.source).toMatch(/\S/);
    const { overrides } = await loadPricingFile("pricing/overrides.yaml");
    expect(overrides.source).toBe("override pricing/overrides.yaml");
  });
});
