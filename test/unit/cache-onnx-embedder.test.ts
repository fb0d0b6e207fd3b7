import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dot, OnnxEmbedder, OnnxModelError } from "../../src/cache/semantic/index.js";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { TINY_HIDDEN, type TinyModel, writeTinyModel } from "../fixtures/tiny-onnx.js";

let model: TinyModel;
let embedder: OnnxEmbedder;

beforeAll(async () => {
  model = await writeTinyModel();
  embedder = await OnnxEmbedder.load({ modelPath: model.dir });
});
afterAll(async () => {
  await embedder?.dispose();
  await rm(model.dir, { recursive: true, force: true });
});

const length = (v: Float32Array) => Math.sqrt(dot(v, v));

describe("OnnxEmbedder (a tiny model built by the test)", () => {
  it("reads its dimensions from the model and names the vector space after the folder", () => {
    expect(embedder.dimensions).toBe(TINY_HIDDEN);
    expect(embedder.name).toContain(model.dir.split("/").at(-1));
    expect(embedder.name).toMatch(/^onnx:.*:fp32:mean:d8$/);
  });

  it("returns unit vectors of the model's width", async () => {
    for (const text of ["What is the capital of France?", "how long is the nile river", "zzz qqq"]) {
      const v = await embedder.embed(text);
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(TINY_HIDDEN);
      expect(length(v)).toBeCloseTo(1, 5);
    }
  });

  it("embeds identical texts alike, and related texts closer than unrelated ones", async () => {
    const [a, again, related, unrelated] = await embedder.embedBatch([
      "What is the capital of France?",
      "What is the capital of France?",
      "name a city in the country of paris",
      "will it rain today, what is the weather forecast",
    ]);
    expect(dot(a as Float32Array, again as Float32Array)).toBeCloseTo(1, 6);
    const near = dot(a as Float32Array, related as Float32Array);
    const far = dot(a as Float32Array, unrelated as Float32Array);
    expect(near).toBeGreaterThan(0.9);
    expect(far).toBeLessThan(0.1);
  });

  it("gives the same vector alone as inside a padded batch", async () => {
    const alone = await embedder.embed("sort a list in python");
    const [batched] = await Promise.all([
      embedder.embed("sort a list in python"),
      embedder.embed("what is the longest river in africa, the nile?"),
      embedder.embed("code"),
    ]);
    expect(dot(alone, batched as Float32Array)).toBeCloseTo(1, 6);
  });

  it("leaves text with no features as a zero vector instead of NaN", async () => {
    const v = await embedder.embed("what is the");
    expect([...v].every((x) => x === 0)).toBe(true);
  });

  it("never goes to the network: a missing folder or a Hub id is a clear error", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    try {
      await expect(OnnxEmbedder.load({ modelPath: join(model.dir, "nope") })).rejects.toThrow(
        /ONNX model folder .*nope lacks config\.json, tokenizer\.json, tokenizer_config\.json, onnx\/model\.onnx/,
      );
      await expect(OnnxEmbedder.load({ modelPath: "Xenova/all-MiniLM-L6-v2" })).rejects.toBeInstanceOf(OnnxModelError);
      await expect(OnnxEmbedder.load({ modelPath: model.dir, dtype: "q8" })).rejects.toThrow(
        /lacks onnx\/model_quantized\.onnx/,
      );
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
    const { env } = await import("@huggingface/transformers");
    expect(env.allowRemoteModels).toBe(false);
  });

  it("refuses a model whose width is not the configured dimensions", async () => {
    await expect(OnnxEmbedder.load({ modelPath: model.dir, dimensions: 384 })).rejects.toThrow(
      /returns 8 dimensions, not 384/,
    );
  });

  it("says so when the model file is not a model", async () => {
    const broken = await writeTinyModel();
    await writeFile(join(broken.dir, "onnx", "model.onnx"), "not a protobuf");
    await expect(OnnxEmbedder.load({ modelPath: broken.dir })).rejects.toThrow(/does not load/);
    await rm(broken.dir, { recursive: true, force: true });
  });
});

describe("cache.semantic.embedder config", () => {
  const yaml = (embedder: string) => `
providers:
  up: { type: mock }
models:
  chat:
    deployments: [{ provider: up, model: m }]
cache:
  semantic:
    embedder: ${embedder}
`;
  const parse = (embedder: string) => parseConfig(yaml(embedder), "routes.yaml", { env: {} }).config;
  const problems = (embedder: string): string[] => {
    try {
      parse(embedder);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error("expected a ConfigError");
  };

  it("keeps the alias form valid without a kind", () => {
    expect(parse("{ alias: embed, dimensions: 1536 }").cache.semantic.embedder).toEqual({
      kind: "alias",
      alias: "embed",
      dimensions: 1536,
    });
  });

  it("takes an ONNX model folder, with pooling and weights defaulted", () => {
    expect(parse("{ kind: onnx, model_path: ./models/minilm }").cache.semantic.embedder).toEqual({
      kind: "onnx",
      model_path: "./models/minilm",
      pooling: "mean",
      dtype: "fp32",
    });
    expect(
      parse("{ kind: onnx, model_path: /m, pooling: cls, dtype: q8, dimensions: 384 }").cache.semantic.embedder,
    ).toEqual({ kind: "onnx", model_path: "/m", pooling: "cls", dtype: "q8", dimensions: 384 });
  });

  it("names the path of what is missing or misplaced", () => {
    expect(problems("{ kind: onnx }")).toEqual([
      "routes.yaml: cache.semantic.embedder.model_path (line 9): missing; kind onnx reads a model from this folder",
    ]);
    expect(problems("{ alias: embed, dimensions: 8, model_path: /m }")).toEqual([
      "routes.yaml: cache.semantic.embedder.model_path (line 9): applies to kind onnx only (add kind: onnx)",
    ]);
    expect(problems("{ kind: onnx, model_path: /m, pooling: max }")[0]).toMatch(
      /^routes\.yaml: cache\.semantic\.embedder\.pooling \(line 9\): /,
    );
  });
});
