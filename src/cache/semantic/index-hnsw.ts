import hnswlib from "hnswlib-node";
import { FlatIndex, type VectorHit, type VectorIndex } from "./index-flat.js";

const { HierarchicalNSW } = hnswlib;

/** M 16, efConstruction 100, ef 32: recall near 1 for k of a few on real embeddings, sub-millisecond at 100k. */
const M = 16;
const EF_CONSTRUCTION = 100;
const EF_SEARCH = 32;

/**
 * Approximate nearest neighbours (HNSW, hnswlib-node) over inner product: for namespaces too large to scan.
 * Vectors are L2-normalised by the embedders, so inner product is cosine, as in FlatIndex. Ids map to
 * hnswlib's integer labels; a removal marks the label deleted (hnswlib skips it in searches).
 */
export class HnswIndex implements VectorIndex {
  private readonly index: InstanceType<typeof HierarchicalNSW>;
  private capacity: number;
  private readonly labels = new Map<string, number>();
  private readonly ids: (string | undefined)[] = [];

  constructor(
    readonly dimensions: number,
    initialCapacity = 1024,
  ) {
    this.capacity = Math.max(16, initialCapacity);
    this.index = new HierarchicalNSW("ip", dimensions);
    this.index.initIndex(this.capacity, M, EF_CONSTRUCTION);
    this.index.setEf(EF_SEARCH);
  }

  get size(): number {
    return this.labels.size;
  }

  has(id: string): boolean {
    return this.labels.has(id);
  }

  add(id: string, vector: Float32Array): void {
    this.remove(id);
    if (this.ids.length >= this.capacity) {
      this.capacity *= 2;
      this.index.resizeIndex(this.capacity);
    }
    const label = this.ids.length;
    this.index.addPoint(Array.from(vector), label);
    this.ids.push(id);
    this.labels.set(id, label);
  }

  remove(id: string): boolean {
    const label = this.labels.get(id);
    if (label === undefined) return false;
    this.index.markDelete(label);
    this.labels.delete(id);
    this.ids[label] = undefined;
    return true;
  }

  search(vector: Float32Array, k: number): VectorHit[] {
    const n = Math.min(k, this.labels.size);
    if (n === 0) return [];
    const found = this.index.searchKnn(Array.from(vector), n);
    const hits: VectorHit[] = [];
    found.neighbors.forEach((label, i) => {
      const id = this.ids[label];
      if (id !== undefined) hits.push({ id, score: 1 - (found.distances[i] as number) });
    });
    return hits;
  }
}

/**
 * A flat index that moves to HNSW once it holds `threshold` vectors: exact and cheap while small (most
 * namespaces), approximate and sub-millisecond when large.
 */
export class GrowingIndex implements VectorIndex {
  private inner: VectorIndex;

  constructor(
    readonly dimensions: number,
    private readonly threshold: number,
    initialRows = 16,
  ) {
    this.inner = new FlatIndex(dimensions, initialRows);
  }

  get size(): number {
    return this.inner.size;
  }

  has(id: string): boolean {
    return this.inner.has(id);
  }

  add(id: string, vector: Float32Array): void {
    this.inner.add(id, vector);
    if (this.inner instanceof FlatIndex && this.inner.size >= this.threshold) this.inner = this.promote(this.inner);
  }

  remove(id: string): boolean {
    return this.inner.remove(id);
  }

  search(vector: Float32Array, k: number): VectorHit[] {
    return this.inner.search(vector, k);
  }

  private promote(flat: FlatIndex): HnswIndex {
    const hnsw = new HnswIndex(this.dimensions, flat.size * 2);
    for (const [id, vector] of flat.entries()) hnsw.add(id, vector);
    return hnsw;
  }
}
