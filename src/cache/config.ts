import { z } from "zod";

const ONNX_ONLY = ["model_path", "pooling", "dtype"] as const;

/** Flat rather than a union, so the config reference lists every field; the transform narrows it per kind. */
const EmbedderSchema = z
  .object({
    kind: z
      .enum(["alias", "onnx"])
      .default("alias")
      .describe(
        "alias: a gateway alias serving /v1/embeddings; onnx: a local ONNX model run in process (never downloaded).",
      ),
    alias: z.string().min(1).optional().describe("kind alias: an alias of this gateway that serves /v1/embeddings."),
    dimensions: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Length of the vectors: required for kind alias; for onnx read from the model, and checked when set."),
    model_path: z
      .string()
      .min(1)
      .optional()
      .describe(
        "kind onnx: folder of a transformers.js model (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx), relative to the config file.",
      ),
    pooling: z
      .enum(["mean", "cls", "last_token"])
      .optional()
      .describe("kind onnx: how token vectors become one, as the model was trained (default mean; cls for BGE)."),
    dtype: z
      .enum(["fp32", "fp16", "q8", "int8", "uint8", "q4", "q4f16", "bnb4"])
      .optional()
      .describe(
        "kind onnx: which weights: fp32 reads onnx/model.onnx (default), q8 onnx/model_quantized.onnx, others onnx/model_<dtype>.onnx.",
      ),
  })
  .strict()
  .superRefine((e, ctx) => {
    const need = (key: string, why: string) => ctx.addIssue({ code: "custom", path: [key], message: why });
    if (e.kind === "alias") {
      if (e.alias === undefined) need("alias", "missing; kind alias embeds through an alias");
      if (e.dimensions === undefined) need("dimensions", "missing; the length of the alias's vectors");
      for (const key of ONNX_ONLY) if (e[key] !== undefined) need(key, "applies to kind onnx only (add kind: onnx)");
    } else {
      if (e.model_path === undefined) need("model_path", "missing; kind onnx reads a model from this folder");
      if (e.alias !== undefined) need("alias", "applies to kind alias only");
    }
  })
  .transform((e) =>
    e.kind === "onnx"
      ? {
          kind: "onnx" as const,
          model_path: e.model_path as string,
          pooling: e.pooling ?? "mean",
          dtype: e.dtype ?? "fp32",
          ...(e.dimensions !== undefined ? { dimensions: e.dimensions } : {}),
        }
      : { kind: "alias" as const, alias: e.alias as string, dimensions: e.dimensions as number },
  );

export const CacheConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe("Cache answers for every alias (each alias may say otherwise)."),
    max_bytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024)
      .describe(
        "In-process tier: bytes of answers kept; past it the least valuable go (GreedyDual-Size-Frequency by saved cost).",
      ),
    ttl_s: z.number().int().positive().default(3600).describe("How long an answer is served from the cache."),
    min_cost_usd: z
      .number()
      .min(0)
      .default(0)
      .describe("Requests predicted to cost less than this upstream are neither looked up nor stored."),
    charge_budgets: z
      .boolean()
      .default(false)
      .describe("Charge a hit to budgets at the original call's cost (default: a hit costs nothing)."),
    semantic: z
      .object({
        threshold: z
          .number()
          .gt(0)
          .max(1)
          .default(0.7)
          .describe("Lowest cosine similarity of a semantic hit (an entry's own threshold only rises from it)."),
        verify_share: z
          .number()
          .min(0)
          .max(1)
          .default(0.05)
          .describe("Share of would-be semantic hits called upstream anyway and compared, to bound the error."),
        error_rate: z
          .number()
          .gt(0)
          .lt(1)
          .default(0.02)
          .describe("The false-hit rate each entry's threshold is raised to stay under (delta)."),
        hnsw_at: z
          .number()
          .int()
          .positive()
          .default(5_000)
          .describe(
            "A namespace group holding this many entries moves from the exact flat index to HNSW (hnswlib-node).",
          ),
        max_entries: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe("Entries per namespace; the oldest goes first."),
        embedder: EmbedderSchema.optional().describe(
          "Embed prompts with a real model instead of the in-process n-gram embedder: through one of Tollgate's own aliases, or a local ONNX model (set threshold for that model: paraphrases score higher with it).",
        ),
      })
      .strict()
      .prefault({})
      .describe("The semantic tier (opt in per alias with models.<alias>.cache.semantic)."),
  })
  .strict();

export const AliasCacheSchema = z
  .object({
    enabled: z.boolean().optional().describe("Cache this alias's answers (default: cache.enabled)."),
    namespace: z
      .enum(["org", "team", "key"])
      .default("team")
      .describe("Who shares cached answers: the same org, team or key (never across them)."),
    ttl_s: z.number().int().positive().optional().describe("Overrides cache.ttl_s for this alias."),
    allow_temperature: z
      .boolean()
      .default(false)
      .describe("Also cache requests with temperature > 0 (their answers are meant to vary)."),
    semantic: z
      .boolean()
      .default(false)
      .describe(
        "After an exact miss, look for a near-duplicate prompt (same system prompt and tools) with the guards.",
      ),
  })
  .strict();

export type CacheConfig = z.infer<typeof CacheConfigSchema>;
export type AliasCacheConfig = z.infer<typeof AliasCacheSchema>;
