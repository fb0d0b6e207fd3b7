import type { RandomSource } from "./types.js";

/** mulberry32: a 32-bit seeded PRNG, plenty for routing decisions and reproducible tests (not for secrets). */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index drawn with probability weights[i] / sum; weights must be >= 0 with a positive sum. */
export function pickWeightedIndex(weights: ArrayLike<number>, random: RandomSource): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i] as number;
  let target = random() * total;
  for (let i = 0; i < weights.length; i++) {
    target -= weights[i] as number;
    if (target < 0) return i;
  }
  return weights.length - 1;
}

/** Standard normal by Box-Muller (one of the pair is dropped: simpler than caching, and cheap enough here). */
export function sampleNormal(random: RandomSource): number {
  const u = 1 - random(); // (0, 1], so log() is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
