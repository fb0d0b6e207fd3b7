// The optional embedders of bench/eval-cache.ts. Their vectors are computed up front (concurrently, so the ONNX
// embedder batches them) and served from a map, so the evaluation itself stays synchronous and identical for all.
import { rm } from "node:fs/promises";
import { basename } from "node:path";
import { DEFAULT_SIMILARITY_THRESHOLD, type Embedder, OnnxEmbedder } from "../../src/cache/semantic/index.js";
import { writeTinyModel } from "../../test/fixtures/tiny-onnx.js";

export interface OptionalEmbedder {
  /** What the table calls it. */
  label: string;
  embedder: Embedder;
  threshold: number;
  note: string;
  close(): Promise<void>;
}

export interface Skipped {
  embedder: string;
  reason: string;
}

/** EVAL_ONNX_MODEL=<folder> (or =tiny, the test model), EVAL_ONNX_THRESHOLD, EVAL_ONNX_POOLING. */
export async function optionalEmbedders(
  env: NodeJS.ProcessEnv,
): Promise<{ ready: OptionalEmbedder[]; skipped: Skipped[] }> {
  const ready: OptionalEmbedder[] = [];
  const skipped: Skipped[] = [
    {
      embedder: "remote (alias)",
      reason:
        "needs an OpenAI-compatible /v1/embeddings server, none reachable offline here (the test mock embeds everything alike)",
    },
  ];
  const model = env.EVAL_ONNX_MODEL;
  const threshold = env.EVAL_ONNX_THRESHOLD ? Number(env.EVAL_ONNX_THRESHOLD) : DEFAULT_SIMILARITY_THRESHOLD;
  const pooling =
    env.EVAL_ONNX_POOLING === "cls" || env.EVAL_ONNX_POOLING === "last_token" ? env.EVAL_ONNX_POOLING : "mean";
  if (!model) {
    skipped.push({
      embedder: "onnx",
      reason:
        "EVAL_ONNX_MODEL not set (a model folder, or =tiny for the test model); no real embedding model is available offline here",
    });
    return { ready, skipped };
  }
  const tiny = model === "tiny" ? await writeTinyModel() : undefined;
  try {
    const embedder = await OnnxEmbedder.load({ modelPath: tiny?.dir ?? model, pooling });
    ready.push({
      label: tiny ? "onnx: tiny test model (plumbing only)" : `onnx: ${basename(model)}`,
      embedder,
      threshold,
      note: tiny
        ? "the 8-dimension bag-of-words model the tests build: shows the plumbing, not a semantic model"
        : `${embedder.name}, pooling ${pooling}`,
      close: async () => {
        await embedder.dispose();
        if (tiny) await rm(tiny.dir, { recursive: true, force: true });
      },
    });
  } catch (err) {
    skipped.push({ embedder: `onnx: ${model}`, reason: (err as Error).message });
  }
  return { ready, skipped };
}

/** Serves the vectors computed by precompute(); a text it was not given is a bug in the evaluation. */
class PrecomputedEmbedder implements Embedder {
  readonly name: string;
  readonly dimensions: number;

  constructor(
    source: Embedder,
    private readonly vectors: ReadonlyMap<string, Float32Array>,
  ) {
    this.name = source.name;
    this.dimensions = source.dimensions;
  }

  embed(text: string): Float32Array {
    const v = this.vectors.get(text);
    if (v === undefined) throw new Error(`not precomputed: ${JSON.stringify(text.slice(0, 60))}`);
    return v;
  }
}

export interface Precomputed {
  embedder: Embedder;
  texts: number;
  /** Wall time over all texts, concurrent calls (batched by the embedder). */
  batchedUsPerText: number;
  /** One call at a time, on a sample of the texts. */
  singleUsP50: number;
}

export async function precompute(source: Embedder, texts: ReadonlySet<string>): Promise<Precomputed> {
  const all = [...texts];
  const sample = all.slice(0, 200);
  const single: number[] = [];
  for (const text of sample) {
    const start = process.hrtime.bigint();
    await source.embed(text);
    single.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  const vectors = new Map<string, Float32Array>();
  const start = process.hrtime.bigint();
  // Chunks bound the promises in flight; within one, the embedder batches as it likes.
  for (let i = 0; i < all.length; i += 512) {
    const chunk = all.slice(i, i + 512);
    const out = await Promise.all(chunk.map((t) => source.embed(t)));
    chunk.forEach((t, j) => {
      vectors.set(t, out[j] as Float32Array);
    });
  }
  const batchedUsPerText = Number(process.hrtime.bigint() - start) / 1000 / Math.max(1, all.length);
  single.sort((a, b) => a - b);
  return {
    embedder: new PrecomputedEmbedder(source, vectors),
    texts: all.length,
    batchedUsPerText,
    singleUsP50: single[Math.floor(single.length / 2)] ?? Number.NaN,
  };
}
