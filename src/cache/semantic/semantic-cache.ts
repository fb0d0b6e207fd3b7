// The semantic tier of the response cache, in memory and free of I/O: it maps a prompt to the id of a stored
// entry whose prompt is similar enough, and the caller (the cache stage) fetches the response by that id.
// A hit needs: the same namespace (the caller puts model, parameters and tenant in it), similarity at or above
// the entry's own threshold, and every guard passing (guards.ts).
import { type Embedder, NgramEmbedder } from "./embedder.js";
import { EntryErrorBound, ERROR_BOUND_DEFAULTS, type ErrorBoundOptions, estimateFalseHitRate } from "./error-bound.js";
import { compareGuardFeatures, contentKey, extractGuardFeatures, type GuardFeatures } from "./guards.js";
import { FlatIndex, type VectorIndex } from "./index-flat.js";
import { GrowingIndex } from "./index-hnsw.js";

/**
 * Chosen with bench/eval-cache.ts (default embedder and guards): QQP non-duplicates 0.7% false hits (target
 * <= 1%), no false hit on Arena-Hard or the adversarial pairs.
 */
export const DEFAULT_SIMILARITY_THRESHOLD = 0.7;
export const DEFAULT_VERIFY_SHARE = 0.05;
/** Portkey's limits for its semantic cache: longer prompts or conversations are almost never repeated. */
export const MAX_ELIGIBLE_PROMPT_TOKENS = 8191;
export const MAX_ELIGIBLE_MESSAGES = 4;
export const DEFAULT_MAX_ENTRIES_PER_NAMESPACE = 10_000;

export interface SemanticCacheOptions {
  readonly embedder?: Embedder;
  /** Lowest similarity any entry accepts; an entry's own threshold only rises from here. */
  readonly similarityThreshold?: number;
  /** Require the same content words (guards.ts). Off, only the embedder's similarity tells paraphrases apart. */
  readonly contentWordsMustMatch?: boolean;
  /** Share of would-be hits to check upstream (shouldVerify). */
  readonly verifyShare?: number;
  readonly errorBound?: Partial<ErrorBoundOptions>;
  /** The oldest entry of a full namespace is evicted by store(). */
  readonly maxEntriesPerNamespace?: number;
  /** Nearest neighbours examined per lookup: the nearest may fail a guard that the next passes. */
  readonly candidates?: number;
  /** A group holding this many entries moves from the flat index to HNSW (hnswlib-node); unset: always flat. */
  readonly hnswAt?: number;
}

export interface SemanticHit {
  readonly entryId: string;
  readonly similarity: number;
}

/** A prompt embedded and analysed once, for a lookup and, on a miss, the store that follows. */
export interface PreparedPrompt {
  readonly vector: Float32Array;
  readonly features: GuardFeatures;
  /** Entries are grouped by it: with contentWordsMustMatch, the content words; otherwise "". */
  readonly group: string;
}

interface Entry {
  readonly id: string;
  readonly namespace: string;
  readonly group: string;
  readonly features: GuardFeatures;
  readonly errorBound: EntryErrorBound;
}

interface Namespace {
  /** One flat index per group: a lookup scans only the group whose entries could pass the content guard. */
  readonly groups: Map<string, VectorIndex>;
  /** Entry ids, oldest first (a Set iterates in insertion order). */
  readonly order: Set<string>;
}

/** Whether a request is worth a semantic lookup: at most 4 messages and under 8,191 prompt tokens. */
export function isEligible(messagesCount: number, promptTokens: number): boolean {
  return messagesCount <= MAX_ELIGIBLE_MESSAGES && promptTokens < MAX_ELIGIBLE_PROMPT_TOKENS;
}

export class SemanticCache {
  readonly embedder: Embedder;
  readonly similarityThreshold: number;
  readonly verifyShare: number;
  private readonly contentWordsMustMatch: boolean;
  private readonly errorBound: ErrorBoundOptions;
  private readonly maxEntriesPerNamespace: number;
  private readonly candidates: number;
  private readonly hnswAt: number | undefined;
  private readonly namespaces = new Map<string, Namespace>();
  private readonly entries = new Map<string, Entry>();

  constructor(options: SemanticCacheOptions = {}) {
    this.embedder = options.embedder ?? new NgramEmbedder();
    this.similarityThreshold = options.similarityThreshold ?? DEFAULT_SIMILARITY_THRESHOLD;
    this.verifyShare = options.verifyShare ?? DEFAULT_VERIFY_SHARE;
    this.contentWordsMustMatch = options.contentWordsMustMatch ?? true;
    this.errorBound = { ...ERROR_BOUND_DEFAULTS, ...options.errorBound };
    this.maxEntriesPerNamespace = options.maxEntriesPerNamespace ?? DEFAULT_MAX_ENTRIES_PER_NAMESPACE;
    this.candidates = options.candidates ?? 4;
    this.hnswAt = options.hnswAt;
    if (this.errorBound.priorFalseHitRate > this.errorBound.delta) {
      throw new RangeError("errorBound.priorFalseHitRate must not exceed errorBound.delta");
    }
  }

  /** Entries across all namespaces. */
  get size(): number {
    return this.entries.size;
  }

  namespaceSize(namespace: string): number {
    return this.namespaces.get(namespace)?.order.size ?? 0;
  }

  async prepare(prompt: string): Promise<PreparedPrompt> {
    const vector = await this.embedder.embed(prompt);
    return this.prepareEmbedded(prompt, vector);
  }

  /** For a caller that already holds the prompt's vector from this cache's embedder. */
  prepareEmbedded(prompt: string, vector: Float32Array): PreparedPrompt {
    const features = extractGuardFeatures(prompt);
    return { vector, features, group: this.contentWordsMustMatch ? contentKey(features) : "" };
  }

  async lookup(namespace: string, prompt: string): Promise<SemanticHit | undefined> {
    return this.lookupPrepared(namespace, await this.prepare(prompt));
  }

  /** The most similar entry that its own threshold and every guard allow, if any. */
  lookupPrepared(namespace: string, prompt: PreparedPrompt): SemanticHit | undefined {
    const index = this.namespaces.get(namespace)?.groups.get(prompt.group);
    if (index === undefined) return undefined;
    for (const { id, score } of index.search(prompt.vector, this.candidates)) {
      if (score < this.similarityThreshold) return undefined; // best first: the rest score lower
      const entry = this.entries.get(id) as Entry;
      if (score < entry.errorBound.threshold) continue;
      const guards = compareGuardFeatures(prompt.features, entry.features, {
        contentWords: this.contentWordsMustMatch,
      });
      if (guards.ok) return { entryId: id, similarity: score };
    }
    return undefined;
  }

  /** Stores `entryId` (unique across namespaces; storing it again moves it). Returns the ids evicted to make room. */
  async store(namespace: string, prompt: string, entryId: string): Promise<string[]> {
    return this.storePrepared(namespace, await this.prepare(prompt), entryId);
  }

  storePrepared(namespace: string, prompt: PreparedPrompt, entryId: string): string[] {
    this.remove(entryId);
    const evicted: string[] = [];
    let space = this.namespaces.get(namespace);
    if (space === undefined) {
      space = { groups: new Map(), order: new Set() };
      this.namespaces.set(namespace, space);
    }
    while (space.order.size >= this.maxEntriesPerNamespace) {
      const oldest = space.order.values().next().value as string;
      this.remove(oldest);
      evicted.push(oldest);
    }
    let index = space.groups.get(prompt.group);
    if (index === undefined) {
      // With content groups most hold one entry; start at one row rather than reserve empty ones.
      index =
        this.hnswAt === undefined
          ? new FlatIndex(this.embedder.dimensions, this.contentWordsMustMatch ? 1 : 16)
          : new GrowingIndex(this.embedder.dimensions, this.hnswAt, this.contentWordsMustMatch ? 1 : 16);
      space.groups.set(prompt.group, index);
    }
    index.add(entryId, prompt.vector);
    space.order.add(entryId);
    this.entries.set(entryId, {
      id: entryId,
      namespace,
      group: prompt.group,
      features: prompt.features,
      errorBound: new EntryErrorBound(this.similarityThreshold, this.errorBound),
    });
    return evicted;
  }

  remove(entryId: string): boolean {
    const entry = this.entries.get(entryId);
    if (entry === undefined) return false;
    this.entries.delete(entryId);
    const space = this.namespaces.get(entry.namespace) as Namespace;
    space.order.delete(entryId);
    const index = space.groups.get(entry.group) as FlatIndex;
    index.remove(entryId);
    if (index.size === 0) space.groups.delete(entry.group);
    if (space.order.size === 0) this.namespaces.delete(entry.namespace);
    return true;
  }

  /** Removes every entry of `namespace`; returns their ids. */
  clearNamespace(namespace: string): string[] {
    const ids = [...(this.namespaces.get(namespace)?.order ?? [])];
    for (const id of ids) this.remove(id);
    return ids;
  }

  /** Whether to check this would-be hit upstream instead of serving it; `random` is uniform in [0, 1). */
  shouldVerify(random: number = Math.random()): boolean {
    return random < this.verifyShare;
  }

  /**
   * Records the upstream check of a would-be hit: `correct` when the cached answer would have done. The entry's
   * threshold is recomputed (error-bound.ts). Returns false for an entry that is no longer stored.
   */
  recordVerification(entryId: string, similarity: number, correct: boolean): boolean {
    const entry = this.entries.get(entryId);
    if (entry === undefined) return false;
    entry.errorBound.record(similarity, correct);
    return true;
  }

  /** The similarity `entryId` needs now: the global threshold until its checks raise it. */
  entryThreshold(entryId: string): number | undefined {
    return this.entries.get(entryId)?.errorBound.threshold;
  }

  /**
   * The estimated false-hit rate of the hits served now: of one entry, or overall (all entries' checks at or
   * above their current thresholds, pooled, with the same prior). Overall walks every entry: for a metrics
   * scrape, not for each request.
   */
  estimatedFalseHitRate(entryId?: string): number {
    if (entryId !== undefined) return this.entries.get(entryId)?.errorBound.estimatedFalseHitRate() ?? 0;
    let checks = 0;
    let wrong = 0;
    for (const entry of this.entries.values()) {
      if (entry.errorBound.checks === 0 || entry.errorBound.threshold === Number.POSITIVE_INFINITY) continue;
      const counts = entry.errorBound.countsAbove();
      checks += counts.checks;
      wrong += counts.wrong;
    }
    return estimateFalseHitRate({ checks, wrong }, this.errorBound);
  }
}
