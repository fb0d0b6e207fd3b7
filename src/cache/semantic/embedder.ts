// Embedders turn a prompt into a unit vector, so that cosine similarity is a dot product.
// The default, NgramEmbedder, runs in process with no model to download: lexical feature hashing. It finds
// near-duplicates (same words, small edits, reordering), not paraphrases with different words.
import { FUNCTION_WORDS, isPunctuation, normalizeText, tokenizeNormalized } from "./tokenize.js";

export interface Embedder {
  /** Identifies the vector space: vectors from embedders with different names must not share an index. */
  readonly name: string;
  readonly dimensions: number;
  /** An L2-normalised vector of `dimensions` floats (all zeros only for text with no features). */
  embed(text: string): Float32Array | Promise<Float32Array>;
}

export interface NgramEmbedderOptions {
  /** Power of two. 256 to 2048 scored the same on the QQP evaluation with the guards on; 512 is 2 KB a vector. */
  dimensions?: number;
  /** Character n-gram lengths, inclusive, over the lowercased words joined by single spaces. */
  minGram?: number;
  maxGram?: number;
  /** Weights of the three feature families before normalisation. */
  charWeight?: number;
  wordWeight?: number;
  bigramWeight?: number;
  /** Multiplies the word weight of function words ("the", "is", "to"), which say little about the question. */
  stopwordWeight?: number;
}

export const NGRAM_EMBEDDER_DEFAULTS: Required<NgramEmbedderOptions> = {
  dimensions: 512,
  minGram: 3,
  maxGram: 5,
  charWeight: 1,
  wordWeight: 3,
  bigramWeight: 2,
  stopwordWeight: 0.25,
};

// Seeds keep the families apart: the word "cat" and the trigram "cat" hash to different features.
const SEED_CHAR = 0x9e3779b1;
const SEED_WORD = 0x85ebca6b;
const SEED_BIGRAM = 0xc2b2ae35;
const FNV_PRIME = 0x01000193;

/** murmur3's finaliser: spreads FNV's weak low bits over the whole word. */
function finalMix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function hashString(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Hashed lexical features: character 3-5-grams of the word stream (typos, plurals, word order at the joints),
 * word unigrams (function words down-weighted) and word bigrams, feature-hashed with a sign bit (collisions
 * cancel on average instead of adding up), then L2-normalised.
 */
export class NgramEmbedder implements Embedder {
  readonly name: string;
  readonly dimensions: number;
  private readonly options: Required<NgramEmbedderOptions>;
  private readonly mask: number;

  constructor(options: NgramEmbedderOptions = {}) {
    this.options = { ...NGRAM_EMBEDDER_DEFAULTS, ...options };
    const { dimensions, minGram, maxGram } = this.options;
    if (!Number.isInteger(Math.log2(dimensions)) || dimensions < 16 || dimensions > 65536) {
      throw new RangeError(`dimensions must be a power of two in [16, 65536], got ${dimensions}`);
    }
    if (minGram < 1 || maxGram < minGram) throw new RangeError(`bad n-gram range ${minGram}-${maxGram}`);
    this.dimensions = dimensions;
    this.mask = dimensions - 1;
    const o = this.options;
    this.name = `ngram-v1-d${dimensions}-c${minGram}${maxGram}-w${o.charWeight},${o.wordWeight},${o.bigramWeight},${o.stopwordWeight}`;
  }

  embed(text: string): Float32Array {
    const vector = new Float32Array(this.dimensions);
    const words = tokenizeNormalized(normalizeText(text)).filter((t) => !isPunctuation(t));
    this.addWords(vector, words);
    this.addCharGrams(vector, ` ${words.join(" ")} `);
    normalizeInPlace(vector);
    return vector;
  }

  private add(vector: Float32Array, hash: number, weight: number): void {
    const h = finalMix(hash);
    // Bit 31 is never part of the index (dimensions <= 2^16), so sign and bucket are independent.
    const bucket = h & this.mask;
    vector[bucket] = (vector[bucket] as number) + (h & 0x80000000 ? -weight : weight);
  }

  private addWords(vector: Float32Array, words: readonly string[]): void {
    const { wordWeight, bigramWeight, stopwordWeight } = this.options;
    let previous = 0;
    let previousStop = true;
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as string;
      const stop = FUNCTION_WORDS.has(word);
      const hash = hashString(word, SEED_WORD);
      this.add(vector, hash, stop ? wordWeight * stopwordWeight : wordWeight);
      if (i > 0) {
        const bigram = Math.imul(previous ^ Math.imul(hash, 0x27d4eb2f), FNV_PRIME) ^ SEED_BIGRAM;
        this.add(vector, bigram, stop && previousStop ? bigramWeight * stopwordWeight : bigramWeight);
      }
      previous = hash;
      previousStop = stop;
    }
  }

  /** Every n-gram starting at i is a prefix of the longest one, so one FNV pass per start emits all lengths. */
  private addCharGrams(vector: Float32Array, stream: string): void {
    const { minGram, maxGram, charWeight } = this.options;
    const last = stream.length - minGram;
    for (let i = 0; i <= last; i++) {
      let h = SEED_CHAR;
      const end = Math.min(i + maxGram, stream.length);
      for (let j = i; j < end; j++) {
        h = Math.imul(h ^ stream.charCodeAt(j), FNV_PRIME);
        if (j - i + 1 >= minGram) this.add(vector, h ^ (j - i), charWeight);
      }
    }
  }
}

/** Scales to unit length; leaves an all-zero vector as it is. */
export function normalizeInPlace(vector: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) * (vector[i] as number);
  if (sum === 0) return;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) * scale;
}

/** Dot product of two vectors of the same length: the cosine similarity of unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}
