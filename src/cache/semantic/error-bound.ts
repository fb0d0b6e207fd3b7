// Per-entry error bound, after vCache (arXiv:2502.03771): one global similarity threshold is wrong for some
// entries, so each entry learns its own from verified would-be hits. A share of would-be hits is checked
// upstream; each check is a (similarity, correct) sample on the entry that would have answered.
//
// The estimate, kept simple: the false-hit rate of accepting similarities >= s is the posterior mean of a
// Beta prior centred on `priorFalseHitRate` with the weight of `priorStrength` samples,
//   estimate(s) = (wrong(s) + priorStrength * priorFalseHitRate) / (samples(s) + priorStrength),
// over the entry's samples with similarity >= s. With no samples it is the prior (the global threshold's rate);
// every wrong answer pushes it up by about 1 / (samples + priorStrength). The entry's threshold is the lowest
// s >= the global threshold (the global threshold itself, or just above a sample) with estimate(s) <= delta.
// In practice: a wrong hit at similarity x closes [global, x] for that entry until some 50 correct checks
// outweigh it. This is a shrinkage estimate, not a certified bound: certifying 2% needs about 150 checks of
// one entry, which a 5% verify share rarely gives.

export interface ErrorBoundOptions {
  /** The false-hit rate an entry may have at the similarities it accepts. */
  readonly delta: number;
  /** What an entry with no checks is assumed to have at the global threshold. Must be <= delta. */
  readonly priorFalseHitRate: number;
  /** How many checks the prior weighs. */
  readonly priorStrength: number;
  /** Checks kept per entry, the most recent. */
  readonly maxSamples: number;
}

export const ERROR_BOUND_DEFAULTS: ErrorBoundOptions = {
  delta: 0.02,
  priorFalseHitRate: 0.01,
  priorStrength: 10,
  maxSamples: 128,
};

/** A threshold "just above" a sample, so that the sample itself is no longer accepted. */
const ABOVE = 1e-6;

interface Sample {
  readonly similarity: number;
  readonly correct: boolean;
}

/** Counts of checks at or above some similarity. */
export interface CheckCounts {
  readonly checks: number;
  readonly wrong: number;
}

/** The posterior-mean false-hit rate for `counts` (see the comment at the top). */
export function estimateFalseHitRate(counts: CheckCounts, options: ErrorBoundOptions): number {
  const prior = options.priorStrength * options.priorFalseHitRate;
  return (counts.wrong + prior) / (counts.checks + options.priorStrength);
}

/** One entry's checks and the threshold they imply. */
export class EntryErrorBound {
  private readonly samples: Sample[] = [];
  private current: number;

  constructor(
    private readonly globalThreshold: number,
    private readonly options: ErrorBoundOptions,
  ) {
    this.current = globalThreshold;
  }

  /** The lowest similarity this entry accepts; Infinity when no threshold meets delta. */
  get threshold(): number {
    return this.current;
  }

  get checks(): number {
    return this.samples.length;
  }

  record(similarity: number, correct: boolean): void {
    this.samples.push({ similarity, correct });
    if (this.samples.length > this.options.maxSamples) this.samples.shift();
    this.current = this.lowestSafeThreshold();
  }

  /** Checks at or above `similarity` (default: the current threshold, i.e. the ones it would accept now). */
  countsAbove(similarity = this.current): CheckCounts {
    let checks = 0;
    let wrong = 0;
    for (const s of this.samples) {
      if (s.similarity < similarity) continue;
      checks++;
      if (!s.correct) wrong++;
    }
    return { checks, wrong };
  }

  /** The estimated false-hit rate at the current threshold; 0 when the entry accepts nothing. */
  estimatedFalseHitRate(): number {
    if (this.current === Number.POSITIVE_INFINITY) return 0;
    return estimateFalseHitRate(this.countsAbove(), this.options);
  }

  /**
   * Walks the candidate thresholds from the top down (just above each sample, then the global threshold),
   * counting the samples above each, and keeps the lowest whose estimate is within delta.
   */
  private lowestSafeThreshold(): number {
    const sorted = this.samples
      .filter((s) => s.similarity >= this.globalThreshold)
      .sort((a, b) => b.similarity - a.similarity);
    let best = Number.POSITIVE_INFINITY;
    let checks = 0;
    let wrong = 0;
    for (let i = 0; i < sorted.length; i++) {
      const level = (sorted[i] as Sample).similarity;
      // Ties: a candidate just above `level` counts only samples strictly above it.
      if (i === 0 || level < (sorted[i - 1] as Sample).similarity) {
        if (estimateFalseHitRate({ checks, wrong }, this.options) <= this.options.delta) best = level + ABOVE;
      }
      checks++;
      if (!(sorted[i] as Sample).correct) wrong++;
    }
    if (estimateFalseHitRate({ checks, wrong }, this.options) <= this.options.delta) best = this.globalThreshold;
    return best;
  }
}
