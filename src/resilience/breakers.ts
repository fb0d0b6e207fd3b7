import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  type IBreaker,
  type IDisposable,
  SamplingBreaker,
} from "cockatiel";

/** When a closed breaker opens: after N failures in a row, or when the failure ratio over a window passes a threshold. */
export type TripRule =
  | { kind: "consecutive"; failures: number }
  | { kind: "sampling"; threshold: number; durationMs: number; minimumRps: number };

/** A deployment's breaker: its trip rule, and how long it stays open before one probe may pass. */
export type BreakerOptions = TripRule & { halfOpenAfterMs: number };

export type BreakerState = "closed" | "open" | "half-open";

export type BreakerListener = (id: string, state: BreakerState) => void;

export const DEFAULT_BREAKER: Readonly<BreakerOptions> = { kind: "consecutive", failures: 5, halfOpenAfterMs: 30_000 };

/** A probe whose outcome is never reported (a lost request) counts as failed after this, so half-open cannot stick. */
export const DEFAULT_PROBE_TIMEOUT_MS = 120_000;

class ProbeAbandonedError extends Error {
  override readonly name = "ProbeAbandonedError";
}

interface Probe {
  /** Settles the promise cockatiel is executing as the half-open test. */
  settle: (outcome: { ok: true } | { ok: false; err: unknown }) => void;
  /** Cockatiel's execute() promise: settled once the breaker has closed or re-opened. */
  done: Promise<void>;
  timer: NodeJS.Timeout;
}

interface Entry {
  policy: CircuitBreakerPolicy;
  halfOpenAfterMs: number;
  /** Date.now() when it last opened; cockatiel keeps its own copy private, and uses the same clock. */
  openedAt: number;
  probe: Probe | undefined;
  subscription: IDisposable;
}

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "open",
};

const noop = () => {};

/**
 * One cockatiel circuit breaker per deployment id, created on first use.
 *
 * Adapter: cockatiel wants to run the guarded call itself, but the gateway cannot hand it a call (a stream is
 * relayed long after the breaker's decision, and wrapping it would hold the breaker for the whole stream). So
 * outcomes are replayed into it: `recordSuccess`/`recordFailure` run `policy.execute(() => outcome)`, which
 * feeds the trip rule exactly as a wrapped call would. The half-open probe is a deferred promise that
 * `admit()` hands to `execute()` at once, so cockatiel sees exactly one test in flight until the gateway
 * reports how that call went. Breaker timing uses cockatiel's clock (Date.now()).
 */
export class DeploymentBreakers {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<BreakerListener>();
  private readonly optionsFor: (id: string) => BreakerOptions;

  constructor(
    options: BreakerOptions | ((id: string) => BreakerOptions) = DEFAULT_BREAKER,
    private readonly probeTimeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS,
  ) {
    this.optionsFor = typeof options === "function" ? options : () => options;
  }

  /** The breaker as its own replica sees it; an unknown id is closed. */
  state(id: string): BreakerState {
    const e = this.entries.get(id);
    return e === undefined ? "closed" : STATE_NAMES[e.policy.state];
  }

  /** When an open breaker lets its next probe through (ms since the epoch); undefined unless open. */
  openUntil(id: string): number | undefined {
    const e = this.entries.get(id);
    if (e === undefined || e.policy.state !== CircuitState.Open) return undefined;
    return e.openedAt + e.halfOpenAfterMs;
  }

  /** How long this deployment's breaker stays open before a probe may pass. */
  halfOpenAfterMs(id: string): number {
    return this.entries.get(id)?.halfOpenAfterMs ?? this.optionsFor(id).halfOpenAfterMs;
  }

  /**
   * Would admit() let a call through now? No side effects, for filtering candidates: closed, or open long
   * enough that the probe is free. Half-open (a probe in flight) is false: only one probe passes.
   */
  canCall(id: string): boolean {
    const e = this.entries.get(id);
    if (e === undefined) return true;
    const state = e.policy.state;
    if (state === CircuitState.Closed) return true;
    return state === CircuitState.Open && Date.now() - e.openedAt >= e.halfOpenAfterMs;
  }

  /**
   * Takes the right to call, right before the call: always when closed; when open long enough, this call
   * becomes the one half-open probe. A true answer must be followed by recordSuccess, recordFailure or release.
   */
  admit(id: string): boolean {
    const e = this.entry(id);
    const state = e.policy.state;
    if (state === CircuitState.Closed) return true;
    if (state !== CircuitState.Open || Date.now() - e.openedAt < e.halfOpenAfterMs) return false;
    let settle: Probe["settle"] = noop;
    const outcome = new Promise<void>((resolve, reject) => {
      settle = (o) => (o.ok ? resolve() : reject(o.err));
    });
    // execute() moves Open -> HalfOpen synchronously when its own clock agrees; otherwise it rejects, ignored.
    const done = e.policy.execute(() => outcome).then(noop, noop);
    if (e.policy.state !== CircuitState.HalfOpen) return false;
    const timer = setTimeout(() => settle({ ok: false, err: new ProbeAbandonedError() }), this.probeTimeoutMs);
    timer.unref();
    e.probe = { settle, done, timer };
    return true;
  }

  /** A call answered well. Resolves once the breaker has counted it (callers on the hot path need not wait). */
  recordSuccess(id: string): Promise<void> {
    return this.record(id, { ok: true });
  }

  /** A call failed in a way that speaks to the deployment's health (see DeploymentHealth for which do). */
  recordFailure(id: string, err: unknown): Promise<void> {
    return this.record(id, { ok: false, err });
  }

  /**
   * An admitted call was never made (the client left first). A held probe counts as failed, so the breaker
   * waits another halfOpenAfter: cockatiel has no "untested" way back to open. Admit as late as you can.
   */
  release(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (e?.probe === undefined) return Promise.resolve();
    return this.settleProbe(e.probe, { ok: false, err: new ProbeAbandonedError() });
  }

  /** Every state change of every deployment's breaker; returns the way to stop listening. */
  onStateChange(listener: BreakerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Deployment ids with a breaker so far. */
  ids(): IterableIterator<string> {
    return this.entries.keys();
  }

  close(): void {
    for (const e of this.entries.values()) {
      if (e.probe) clearTimeout(e.probe.timer);
      e.subscription.dispose();
    }
    this.entries.clear();
    this.listeners.clear();
  }

  private record(id: string, outcome: { ok: true } | { ok: false; err: unknown }): Promise<void> {
    const e = this.entry(id);
    switch (e.policy.state) {
      case CircuitState.Closed:
        return e.policy.execute(() => (outcome.ok ? undefined : Promise.reject(outcome.err))).then(noop, noop);
      case CircuitState.HalfOpen:
        // Any outcome while probing decides the probe: a straggler from before the open is evidence too.
        return e.probe ? this.settleProbe(e.probe, outcome) : Promise.resolve();
      default:
        // Open: stragglers that started before it opened change nothing; the probe will decide.
        return Promise.resolve();
    }
  }

  private settleProbe(probe: Probe, outcome: { ok: true } | { ok: false; err: unknown }): Promise<void> {
    clearTimeout(probe.timer);
    probe.settle(outcome);
    return probe.done;
  }

  private entry(id: string): Entry {
    const existing = this.entries.get(id);
    if (existing) return existing;
    const options = this.optionsFor(id);
    const policy = circuitBreaker(handleAll, { halfOpenAfter: options.halfOpenAfterMs, breaker: tripBreaker(options) });
    const e: Entry = {
      policy,
      halfOpenAfterMs: options.halfOpenAfterMs,
      openedAt: 0,
      probe: undefined,
      subscription: { dispose: noop },
    };
    e.subscription = policy.onStateChange((state) => {
      if (state === CircuitState.Open) e.openedAt = Date.now();
      if (state !== CircuitState.HalfOpen && e.probe) {
        clearTimeout(e.probe.timer);
        e.probe = undefined;
      }
      const name = STATE_NAMES[state];
      for (const listener of this.listeners) listener(id, name);
    });
    this.entries.set(id, e);
    return e;
  }
}

function tripBreaker(rule: TripRule): IBreaker {
  if (rule.kind === "consecutive") {
    if (!(rule.failures >= 1)) throw new RangeError(`breaker failures must be at least 1, got ${rule.failures}`);
    return new ConsecutiveBreaker(rule.failures);
  }
  return new SamplingBreaker({ threshold: rule.threshold, duration: rule.durationMs, minimumRps: rule.minimumRps });
}
