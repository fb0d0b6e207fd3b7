import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bundledProviders,
  GENAI_PRICES_VERSION,
  GENAI_PROVIDER_IDS,
  genaiCost,
  resolveGenaiModel,
} from "../../src/pricing/genai.js";

describe("genai-prices wrapper", () => {
  it("pins the version it names in provenance strings", () => {
    const pkg = JSON.parse(readFileSync("node_modules/@pydantic/genai-prices/package.json", "utf8")) as {
      version: string;
    };
    expect(pkg.version).toBe(GENAI_PRICES_VERSION);
    const own = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> };
    expect(own.dependencies["@pydantic/genai-prices"]).toBe(GENAI_PRICES_VERSION);
  });

  it("maps every Tollgate provider type with a price list onto a genai-prices provider id", async () => {
    const ids = new Set((await bundledProviders()).map((p) => p.id));
    expect(GENAI_PROVIDER_IDS).toEqual({
      openai: "openai",
      azure: "azure",
      anthropic: "anthropic",
      gemini: "google",
      bedrock: "aws",
    });
    for (const id of Object.values(GENAI_PROVIDER_IDS)) expect(ids.has(id)).toBe(true);
  });

  it("computes the same cost on the fast path as calcPrice, for every bundled model of the mapped providers", async () => {
    const data = await bundledProviders();
    const samples = [
      { input: 1000, cacheRead: 0, cacheWrite: 0, output: 100 },
      { input: 5000, cacheRead: 3000, cacheWrite: 2000, output: 700 },
      { input: 250_000, cacheRead: 20_000, cacheWrite: 10_000, output: 4000 },
    ];
    let fast = 0;
    for (const [type, id] of Object.entries(GENAI_PROVIDER_IDS)) {
      const provider = data.find((p) => p.id === id);
      for (const m of provider?.models ?? []) {
        const ref = resolveGenaiModel(data, type, m.id);
        if (!ref?.fixed) continue;
        fast++;
        const slow = { ...ref, fixed: undefined };
        for (const c of samples) {
          const a = genaiCost(ref, m.id, c);
          const b = genaiCost(slow, m.id, c);
          expect(a?.costUsd, `${id}/${m.id}`).toBeCloseTo(b?.costUsd ?? Number.NaN, 10);
          expect(a?.cacheReadUsd, `${id}/${m.id}`).toBeCloseTo(b?.cacheReadUsd ?? Number.NaN, 10);
          expect(a?.outputUsd, `${id}/${m.id}`).toBeCloseTo(b?.outputUsd ?? Number.NaN, 10);
          expect(a?.tier, `${id}/${m.id}`).toBe(b?.tier);
        }
      }
    }
    expect(fast).toBeGreaterThan(100);
  });
});
