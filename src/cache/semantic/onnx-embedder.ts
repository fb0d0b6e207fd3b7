import { access } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { FeatureExtractionPipeline } from "@huggingface/transformers";
import { type Embedder, normalizeInPlace } from "./embedder.js";

export type OnnxPooling = "mean" | "cls" | "last_token";
export type OnnxDtype = "fp32" | "fp16" | "q8" | "int8" | "uint8" | "q4" | "q4f16" | "bnb4";

/** transformers.js picks the weights file by dtype: onnx/model<suffix>.onnx. */
const DTYPE_SUFFIX: Record<OnnxDtype, string> = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
};

export interface OnnxEmbedderOptions {
  /** A folder holding a transformers.js model; relative paths resolve against the working directory. */
  modelPath: string;
  /** How token vectors become one; the model card says which its training used. Default mean. */
  pooling?: OnnxPooling;
  dtype?: OnnxDtype;
  /** When set, the model's output length must equal it. */
  dimensions?: number;
  /** Most texts run through the model at once; concurrent embed() calls are batched up to it. Default 32. */
  maxBatch?: number;
}

/** The model folder is missing or incomplete, or the model does not load: a configuration problem. */
export class OnnxModelError extends Error {
  override readonly name = "OnnxModelError";
}

/** The files transformers.js reads for a text feature-extraction model, relative to the model folder. */
export function requiredModelFiles(dtype: OnnxDtype = "fp32"): string[] {
  return ["config.json", "tokenizer.json", "tokenizer_config.json", `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`];
}

interface Pending {
  text: string;
  resolve: (vector: Float32Array) => void;
  reject: (err: Error) => void;
}

/**
 * A local ONNX embedding model run in process (onnxruntime-node through @huggingface/transformers). Never
 * downloads: remote models are off and the path is absolute, so transformers.js never reads it as a Hub id.
 * Calls that arrive while the model is busy run together as the next batch (one model call, padded).
 */
export class OnnxEmbedder implements Embedder {
  readonly name: string;
  private readonly queue: Pending[] = [];
  private running = false;

  private constructor(
    private readonly extractor: FeatureExtractionPipeline,
    private readonly pooling: OnnxPooling,
    private readonly maxBatch: number,
    readonly dimensions: number,
    name: string,
  ) {
    this.name = name;
  }

  static async load(options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const dir = resolve(options.modelPath);
    const pooling = options.pooling ?? "mean";
    const dtype = options.dtype ?? "fp32";
    const missing = await missingFiles(dir, requiredModelFiles(dtype));
    if (missing.length) {
      throw new OnnxModelError(
        `ONNX model folder ${dir} lacks ${missing.join(", ")} (models are never downloaded: export one with its tokenizer into that folder)`,
      );
    }
    // Loaded only here, so a gateway without an ONNX embedder never loads onnxruntime.
    const { env, LogLevel, pipeline } = await import("@huggingface/transformers");
    env.allowRemoteModels = false;
    env.useFSCache = false;
    env.logLevel = LogLevel.ERROR; // its warnings would go to stdout, between the gateway's JSON log lines
    let extractor: FeatureExtractionPipeline | undefined;
    let dimensions: number;
    try {
      extractor = await pipeline("feature-extraction", dir, { local_files_only: true, dtype });
      dimensions = ((await runModel(extractor, ["dimension probe"], pooling))[0] as Float32Array).length;
    } catch (err) {
      await extractor?.dispose();
      if (err instanceof OnnxModelError) throw err;
      throw new OnnxModelError(`ONNX model in ${dir} does not load: ${(err as Error).message}`);
    }
    if (options.dimensions !== undefined && options.dimensions !== dimensions) {
      await extractor.dispose();
      throw new OnnxModelError(`ONNX model in ${dir} returns ${dimensions} dimensions, not ${options.dimensions}`);
    }
    // Another folder, weights file or pooling is another vector space: entries must not mix.
    const name = `onnx:${basename(dir)}:${dtype}:${pooling}:d${dimensions}`;
    return new OnnxEmbedder(extractor, pooling, Math.max(1, options.maxBatch ?? 32), dimensions, name);
  }

  embed(text: string): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** Several texts in model calls of up to maxBatch each (what an evaluation or a restore wants). */
  async embedBatch(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.all(texts.map((t) => this.embed(t)));
  }

  async dispose(): Promise<void> {
    await this.extractor.dispose();
  }

  private async drain(): Promise<void> {
    this.running = true;
    // One turn of the event loop lets callers in the same tick join the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const vectors = await runModel(
          this.extractor,
          batch.map((p) => p.text),
          this.pooling,
        );
        batch.forEach((p, i) => {
          p.resolve(vectors[i] as Float32Array);
        });
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
    this.running = false;
  }
}

/** One model call: pooled, then L2-normalised here (an all-zero vector stays zero instead of becoming NaN). */
async function runModel(
  extractor: FeatureExtractionPipeline,
  texts: string[],
  pooling: OnnxPooling,
): Promise<Float32Array[]> {
  const output = await extractor(texts, { pooling, normalize: false });
  const [rows, width] = output.dims as [number, number];
  const data = output.data;
  if (!(data instanceof Float32Array)) {
    output.dispose();
    throw new OnnxModelError(`ONNX model returned ${output.type} vectors; a float32 output is needed`);
  }
  const vectors: Float32Array[] = [];
  for (let i = 0; i < rows; i++) {
    const v = data.slice(i * width, (i + 1) * width);
    normalizeInPlace(v);
    vectors.push(v);
  }
  output.dispose();
  return vectors;
}

async function missingFiles(dir: string, files: readonly string[]): Promise<string[]> {
  const present = await Promise.all(
    files.map((f) =>
      access(join(dir, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return files.filter((_, i) => !present[i]);
}
