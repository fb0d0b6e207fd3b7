/** Resolves when the deployment looks healthy, rejects (or times out) when not. A cheap call, e.g. list models. */
export type HealthProbe = (id: string, signal: AbortSignal) => Promise<void>;

/** Where verdicts go; DeploymentHealth is one. */
export interface HealthCheckTarget {
  markHealthCheck(id: string, passing: boolean): void;
}

export interface HealthCheckOptions {
  deployments: readonly string[];
  probe: HealthProbe;
  target: HealthCheckTarget;
  /** Time from the end of one probe of a deployment to the start of its next. */
  intervalMs?: number;
  /** A probe slower than this fails (its signal aborts). */
  timeoutMs?: number;
  /** Passes in a row that bring a failing deployment back. */
  healthyThreshold?: number;
  /** Failures in a row that mark a deployment failing. */
  unhealthyThreshold?: number;
  /** Each probe's outcome, for logs and metrics. */
  onResult?: (id: string, passed: boolean, err?: unknown) => void;
  random?: () => number;
}

export const DEFAULT_HEALTH_CHECK = {
  intervalMs: 30_000,
  timeoutMs: 5_000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
} as const;

/** The abort reason stop() gives, told apart from a timeout. */
const STOPPED = Symbol("health checks stopped");

interface CheckState {
  passing: boolean;
  passes: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  inFlight: AbortController | undefined;
}

/**
 * Active health checks, one timer chain per deployment (unref'd: they never keep the process alive). Each
 * deployment starts passing and flips only after `unhealthyThreshold` failures in a row, then back after
 * `healthyThreshold` passes in a row, so one blip does not move traffic. Each replica probes on its own:
 * verdicts are not shared, as a replica's own network path is what it needs to know about.
 */
export class HealthChecker {
  private readonly states = new Map<string, CheckState>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly healthyThreshold: number;
  private readonly unhealthyThreshold: number;
  private readonly random: () => number;
  private running = false;

  constructor(private readonly options: HealthCheckOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_HEALTH_CHECK.intervalMs;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_CHECK.timeoutMs;
    this.healthyThreshold = options.healthyThreshold ?? DEFAULT_HEALTH_CHECK.healthyThreshold;
    this.unhealthyThreshold = options.unhealthyThreshold ?? DEFAULT_HEALTH_CHECK.unhealthyThreshold;
    this.random = options.random ?? Math.random;
    for (const id of new Set(options.deployments)) {
      this.states.set(id, { passing: true, passes: 0, failures: 0, timer: undefined, inFlight: undefined });
    }
  }

  /** Starts probing; each deployment's first probe comes at a random point of the first interval, to spread them. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const id of this.states.keys()) this.schedule(id, Math.floor(this.random() * this.intervalMs));
  }

  /** Stops the timers and aborts probes in flight; verdicts already given stay with the target. */
  stop(): void {
    this.running = false;
    for (const s of this.states.values()) {
      clearTimeout(s.timer);
      s.timer = undefined;
      s.inFlight?.abort(STOPPED);
    }
  }

  isPassing(id: string): boolean {
    return this.states.get(id)?.passing ?? true;
  }

  /** Runs one probe of a deployment now and applies the thresholds; resolves with its verdict after it. */
  async checkNow(id: string): Promise<boolean> {
    const s = this.states.get(id);
    if (s === undefined) throw new RangeError(`no health check for deployment '${id}'`);
    const controller = new AbortController();
    s.inFlight = controller;
    const timer = setTimeout(
      () => controller.abort(new Error(`health check timed out after ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    timer.unref();
    let passed: boolean;
    let error: unknown;
    try {
      await raceAbort(this.options.probe(id, controller.signal), controller.signal);
      passed = true;
    } catch (err) {
      passed = false;
      error = err;
    } finally {
      clearTimeout(timer);
      if (s.inFlight === controller) s.inFlight = undefined;
    }
    // stop() aborted it: not the deployment's fault, so no verdict.
    if (controller.signal.reason === STOPPED) return s.passing;
    this.options.onResult?.(id, passed, error);
    this.apply(id, s, passed);
    return s.passing;
  }

  private apply(id: string, s: CheckState, passed: boolean): void {
    if (passed) {
      s.passes++;
      s.failures = 0;
      if (!s.passing && s.passes >= this.healthyThreshold) this.flip(id, s, true);
    } else {
      s.failures++;
      s.passes = 0;
      if (s.passing && s.failures >= this.unhealthyThreshold) this.flip(id, s, false);
    }
  }

  private flip(id: string, s: CheckState, passing: boolean): void {
    s.passing = passing;
    this.options.target.markHealthCheck(id, passing);
  }

  private schedule(id: string, delayMs: number): void {
    const s = this.states.get(id);
    if (s === undefined) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.checkNow(id).finally(() => {
        if (this.running) this.schedule(id, this.intervalMs);
      });
    }, delayMs);
    s.timer.unref();
  }
}

/** A probe that ignores its signal still counts as failed at the timeout. */
function raceAbort(work: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
