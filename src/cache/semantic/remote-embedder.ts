import type { Embedder } from "./embedder.js";

/**
 * An embedding model behind one of the gateway's own aliases (an OpenAI-compatible /v1/embeddings): what turns
 * the semantic tier from a near-duplicate detector into a paraphrase detector. The vector is L2-normalised,
 * so the index's dot product is the cosine similarity, as for the n-gram embedder.
 */
export class RemoteEmbedder implements Embedder {
  readonly name: string;

  constructor(
    alias: string,
    readonly dimensions: number,
    private readonly fetchVector: (text: string) => Promise<readonly number[]>,
  ) {
    this.name = `remote:${alias}`;
  }

  async embed(text: string): Promise<Float32Array> {
    const raw = await this.fetchVector(text);
    if (raw.length !== this.dimensions) {
      throw new Error(`${this.name} returned ${raw.length} dimensions, expected ${this.dimensions}`);
    }
    const v = Float32Array.from(raw);
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += (v[i] as number) * (v[i] as number);
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / norm;
    return v;
  }
}
