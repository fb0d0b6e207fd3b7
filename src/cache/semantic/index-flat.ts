// Exact nearest-neighbour search by brute force. One contiguous Float32Array holds every row, so a search is a
// linear scan with no pointer chasing; at cache sizes (thousands of entries per namespace) this beats an
// approximate index on simplicity and is exact. Vectors are unit length, so the score is the cosine similarity.

export interface VectorHit {
  readonly id: string;
  readonly score: number;
}

export interface VectorIndex {
  readonly dimensions: number;
  readonly size: number;
  /** Adds or replaces the vector stored under `id`. */
  add(id: string, vector: Float32Array): void;
  /** Removes `id`; a no-op when it is absent. Returns whether it was there. */
  remove(id: string): boolean;
  has(id: string): boolean;
  /** The `k` stored vectors with the highest dot product with `vector`, best first. */
  search(vector: Float32Array, k: number): VectorHit[];
}

const INITIAL_ROWS = 4;

export class FlatIndex implements VectorIndex {
  readonly dimensions: number;
  private rows: Float32Array;
  private capacity: number;
  private ids: string[] = [];
  private slotOf = new Map<string, number>();

  constructor(dimensions: number, initialCapacity = INITIAL_ROWS) {
    if (!Number.isInteger(dimensions) || dimensions <= 0) throw new RangeError(`bad dimensions ${dimensions}`);
    this.dimensions = dimensions;
    this.capacity = Math.max(1, initialCapacity);
    this.rows = new Float32Array(this.capacity * dimensions);
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  add(id: string, vector: Float32Array): void {
    this.checkLength(vector);
    const existing = this.slotOf.get(id);
    if (existing !== undefined) {
      this.rows.set(vector, existing * this.dimensions);
      return;
    }
    if (this.ids.length === this.capacity) this.grow();
    const slot = this.ids.length;
    this.rows.set(vector, slot * this.dimensions);
    this.ids.push(id);
    this.slotOf.set(id, slot);
  }

  /** Every stored vector (views into the rows: copy before keeping), for moving to another index. */
  *entries(): IterableIterator<[string, Float32Array]> {
    const d = this.dimensions;
    for (let slot = 0; slot < this.ids.length; slot++) {
      yield [this.ids[slot] as string, this.rows.subarray(slot * d, (slot + 1) * d)];
    }
  }

  /** Moves the last row into the hole, so rows stay contiguous and a search never skips tombstones. */
  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    const lastSlot = this.ids.length - 1;
    const lastId = this.ids[lastSlot] as string;
    if (slot !== lastSlot) {
      const d = this.dimensions;
      this.rows.copyWithin(slot * d, lastSlot * d, (lastSlot + 1) * d);
      this.ids[slot] = lastId;
      this.slotOf.set(lastId, slot);
    }
    this.ids.pop();
    this.slotOf.delete(id);
    return true;
  }

  search(vector: Float32Array, k: number): VectorHit[] {
    this.checkLength(vector);
    const count = this.ids.length;
    if (count === 0 || k <= 0) return [];
    if (k === 1) {
      let best = -1;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let slot = 0; slot < count; slot++) {
        const score = this.rowDot(slot, vector);
        if (score > bestScore) {
          bestScore = score;
          best = slot;
        }
      }
      return [{ id: this.ids[best] as string, score: bestScore }];
    }
    return this.searchTopK(vector, Math.min(k, count));
  }

  /** Keeps the k best in a small array sorted best first; k is a handful, so insertion beats a heap. */
  private searchTopK(vector: Float32Array, k: number): VectorHit[] {
    const slots: number[] = [];
    const scores: number[] = [];
    for (let slot = 0; slot < this.ids.length; slot++) {
      const score = this.rowDot(slot, vector);
      if (slots.length === k && score <= (scores[k - 1] as number)) continue;
      let at = slots.length === k ? k - 1 : slots.length;
      while (at > 0 && (scores[at - 1] as number) < score) {
        scores[at] = scores[at - 1] as number;
        slots[at] = slots[at - 1] as number;
        at--;
      }
      scores[at] = score;
      slots[at] = slot;
    }
    return slots.map((slot, i) => ({ id: this.ids[slot] as string, score: scores[i] as number }));
  }

  /** Four accumulators break the add dependency chain: about 1.3x faster than one in V8 (measured, Node 20). */
  private rowDot(slot: number, vector: Float32Array): number {
    const rows = this.rows;
    const d = this.dimensions;
    const base = slot * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < d; i += 4) {
      s0 += (rows[base + i] as number) * (vector[i] as number);
      s1 += (rows[base + i + 1] as number) * (vector[i + 1] as number);
      s2 += (rows[base + i + 2] as number) * (vector[i + 2] as number);
      s3 += (rows[base + i + 3] as number) * (vector[i + 3] as number);
    }
    for (; i < d; i++) s0 += (rows[base + i] as number) * (vector[i] as number);
    return s0 + s1 + s2 + s3;
  }

  /** Doubling keeps adds amortised O(dimensions). */
  private grow(): void {
    this.capacity *= 2;
    const rows = new Float32Array(this.capacity * this.dimensions);
    rows.set(this.rows.subarray(0, this.ids.length * this.dimensions));
    this.rows = rows;
  }

  private checkLength(vector: Float32Array): void {
    if (vector.length !== this.dimensions) {
      throw new RangeError(`vector has ${vector.length} dimensions, the index ${this.dimensions}`);
    }
  }
}
