import type { Clock } from "./types.js";

export interface PeakEwmaOptions {
  /**
   * Decay time constant tau (ms): a sample `elapsed` ms old keeps weight exp(-elapsed / tau). 10 s is Finagle's
   * default decay time for its Peak EWMA balancer (`Balancers.p2cPeakEwma`), also used by Linkerd's proxy.
   */
  readonly decayMs?: number;
  /** A failed call is recorded as at least this latency (ms), so a fast 429/5xx does not look fast. */
  readonly failurePenaltyMs?: number;
  /** ...and at least this multiple of the current estimate, so repeated failures keep pushing the score up. */
  readonly failureFactor?: number;
  /** Cap on a penalty sample (ms), so a long run of failures recovers in a bounded time once calls succeed. */
  readonly maxPenaltyMs?: number;
}

export const PEAK_EWMA_DEFAULTS = {
  decayMs: 10_000,
  failurePenaltyMs: 10_000, // a long completion: one fast failure ranks a deployment with the slow but healthy ones
  failureFactor: 2,
  maxPenaltyMs: 120_000,
} as const satisfies Required<PeakEwmaOptions>;

/**
 * Peak EWMA latency of one deployment (Finagle/Linkerd): an exponentially weighted moving average over time that
 * jumps straight to any sample above it (the "peak"), so a deployment turning slow is avoided at once and trusted
 * again only gradually. Load-aware score = estimate * (inFlight + 1).
 */
export class PeakEwma {
  private estimate = 0;
  private stampMs = 0;
  private sampleCount = 0;
  private inFlightCount = 0;
  private readonly decayMs: number;
  private readonly failurePenaltyMs: number;
  private readonly failureFactor: number;
  private readonly maxPenaltyMs: number;

  constructor(
    private readonly clock: Clock,
    options: PeakEwmaOptions = {},
  ) {
    this.decayMs = options.decayMs ?? PEAK_EWMA_DEFAULTS.decayMs;
    this.failurePenaltyMs = options.failurePenaltyMs ?? PEAK_EWMA_DEFAULTS.failurePenaltyMs;
    this.failureFactor = options.failureFactor ?? PEAK_EWMA_DEFAULTS.failureFactor;
    this.maxPenaltyMs = options.maxPenaltyMs ?? PEAK_EWMA_DEFAULTS.maxPenaltyMs;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get samples(): number {
    return this.sampleCount;
  }

  start(): void {
    this.inFlightCount++;
  }

  /** One call finished: its latency, or for a failure a penalty latency. */
  end(latencyMs: number, ok: boolean): void {
    if (this.inFlightCount > 0) this.inFlightCount--;
    this.observe(ok ? latencyMs : this.penaltyFor(latencyMs));
  }

  observe(latencyMs: number): void {
    const now = this.clock();
    if (this.sampleCount === 0 || latencyMs > this.estimate) {
      this.estimate = latencyMs;
    } else {
      const w = Math.exp(-Math.max(now - this.stampMs, 0) / this.decayMs);
      this.estimate = this.estimate * w + latencyMs * (1 - w);
    }
    this.stampMs = now;
    this.sampleCount++;
  }

  /**
   * Current estimate (ms). While idle it decays toward zero from the last sample (as Finagle's and tower's do), so a
   * deployment that spiked and lost its traffic gets probed again instead of starving. While calls are in flight it
   * does not decay: they are not idleness, and decaying would flood a deployment whose calls hang.
   */
  estimateMs(): number {
    if (this.inFlightCount > 0 || this.sampleCount === 0) return this.estimate;
    return this.estimate * Math.exp(-Math.max(this.clock() - this.stampMs, 0) / this.decayMs);
  }

  /**
   * Lower is better. An unmeasured deployment scores 0 when idle (explored first), and a full penalty per call in
   * flight until its first answer, so a new deployment gets one probe at a time rather than the whole flood.
   */
  score(): number {
    if (this.sampleCount === 0) return this.failurePenaltyMs * this.inFlightCount;
    return this.estimateMs() * (this.inFlightCount + 1);
  }

  private penaltyFor(latencyMs: number): number {
    const escalated = Math.min(this.estimate * this.failureFactor, this.maxPenaltyMs);
    return Math.max(latencyMs, escalated, this.failurePenaltyMs);
  }
}

/**
 * A call's latency rescaled to a reference answer length: TTFT plus decode time per token x referenceTokens.
 * LLM wall time grows with the answer, and a peak EWMA fed raw wall times chases the longest answers instead of the
 * slowest deployment; feed it this instead when the completion length is known.
 */
export function lengthNormalisedLatencyMs(
  totalMs: number,
  ttftMs: number,
  completionTokens: number,
  referenceTokens = 256,
): number {
  if (completionTokens <= 0) return totalMs;
  return ttftMs + ((totalMs - ttftMs) * referenceTokens) / completionTokens;
}

export interface LatencySnapshot {
  readonly id: string;
  readonly ewmaMs: number;
  readonly inFlight: number;
  readonly samples: number;
  readonly score: number;
}

/** Peak EWMA per deployment id; what the latency strategy reads and the performance endpoint reports. */
export class LatencyTracker {
  private readonly byId = new Map<string, PeakEwma>();
  private readonly clock: Clock;

  constructor(private readonly options: PeakEwmaOptions & { readonly clock?: Clock } = {}) {
    this.clock = options.clock ?? Date.now;
  }

  start(id: string): void {
    this.tracker(id).start();
  }

  end(id: string, latencyMs: number, ok: boolean): void {
    this.tracker(id).end(latencyMs, ok);
  }

  /** Score of a deployment (see PeakEwma.score); 0 for one never seen, so it is explored. */
  score(id: string): number {
    return this.byId.get(id)?.score() ?? 0;
  }

  get(id: string): PeakEwma | undefined {
    return this.byId.get(id);
  }

  snapshot(): LatencySnapshot[] {
    const rows: LatencySnapshot[] = [];
    for (const [id, ewma] of this.byId) {
      rows.push({ id, ewmaMs: ewma.estimateMs(), inFlight: ewma.inFlight, samples: ewma.samples, score: ewma.score() });
    }
    return rows;
  }

  private tracker(id: string): PeakEwma {
    let ewma = this.byId.get(id);
    if (!ewma) {
      ewma = new PeakEwma(this.clock, this.options);
      this.byId.set(id, ewma);
    }
    return ewma;
  }
}
