import { type HealthEvent, type HealthStore, MemoryHealthStore } from "../state/health.js";
import { type BreakerListener, type BreakerOptions, type BreakerState, DeploymentBreakers } from "./breakers.js";
import { type CooldownOptions, DeploymentCooldowns, type EjectionOptions } from "./cooldowns.js";
import { classifyFailure, isDeploymentFault } from "./failures.js";

export interface DeploymentHealthOptions {
  /** Shared state between replicas; memory (this replica only) when absent. close() closes it. */
  store?: HealthStore;
  /** One breaker rule for all, or per deployment id. */
  breaker?: BreakerOptions | ((id: string) => BreakerOptions);
  /** A half-open probe never reported counts as failed after this. */
  probeTimeoutMs?: number;
  cooldown?: Partial<CooldownOptions>;
  ejection?: Partial<EjectionOptions>;
  /** Alias -> deployment ids: latency peers and the population for maxEjectionPercent. */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Clock for cooldowns, ejection and remote overlays; breakers keep cockatiel's Date.now(). */
  now?: () => number;
}

export interface DeploymentHealthSnapshot {
  /** This replica's own breaker. */
  breaker: BreakerState;
  /** Ms since the epoch; 0 when none. Same for the fields below. */
  cooldownUntil: number;
  ejectedUntil: number;
  /** An open breaker another replica published. */
  remoteOpenUntil: number;
  consecutiveFailures: number;
  /** False while active health checks say it is down. */
  healthCheckPassing: boolean;
}

/**
 * Per-deployment health in one place: breaker (cockatiel), 429 cooldowns, outlier ejection, active health
 * checks, and what other replicas published. The router asks isEligible(); the call path reports every
 * attempt's outcome with onSuccess/onFailure.
 *
 * A remote replica's open breaker is an overlay (remoteOpenUntil), not cockatiel's isolate(): an isolated
 * breaker can only be disposed back to closed, which would wipe this replica's own open state and probe.
 * The overlay just hides the deployment until the time the other replica named, or until it publishes
 * "closed"; this replica's breaker keeps counting on its own meanwhile.
 */
export class DeploymentHealth {
  private readonly breakers: DeploymentBreakers;
  private readonly cooldowns: DeploymentCooldowns;
  private readonly store: HealthStore;
  private readonly now: () => number;
  private readonly remoteOpenUntil = new Map<string, number>();
  private readonly failingChecks = new Set<string>();
  private readonly unsubscribe: () => void;
  private readonly stopListening: () => void;

  constructor(options: DeploymentHealthOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = options.store ?? new MemoryHealthStore(this.now);
    this.breakers = new DeploymentBreakers(options.breaker, options.probeTimeoutMs);
    this.cooldowns = new DeploymentCooldowns(options.cooldown, options.ejection);
    if (options.groups) this.cooldowns.setGroups(options.groups);
    this.stopListening = this.breakers.onStateChange((id, state) => this.publishBreaker(id, state));
    this.unsubscribe = this.store.subscribe(
      (event) => this.applyRemote(event),
      () => void this.load(),
    );
  }

  /** A DeploymentHealth that has loaded what other replicas already know (open breakers, cooldowns). */
  static async create(options: DeploymentHealthOptions = {}): Promise<DeploymentHealth> {
    const health = new DeploymentHealth(options);
    await health.load();
    return health;
  }

  /** Applies the store's snapshot; called at start and again after the store reconnects. */
  async load(): Promise<void> {
    for (const entry of await this.store.snapshot()) {
      if (entry.openUntil !== undefined) this.applyRemote({ kind: "open", id: entry.id, untilMs: entry.openUntil });
      if (entry.cooldownUntil !== undefined) this.cooldowns.coolDownUntil(entry.id, entry.cooldownUntil);
    }
  }

  setGroups(groups: Readonly<Record<string, readonly string[]>>): void {
    this.cooldowns.setGroups(groups);
  }

  /**
   * May the router pick this deployment now? Hot path: a few Map lookups, no I/O. True when its breaker is
   * closed (or open long enough that the probe is free), and it is not cooling down, ejected, failing active
   * health checks, or open on another replica.
   */
  isEligible(id: string, now: number = this.now()): boolean {
    if (this.failingChecks.size !== 0 && this.failingChecks.has(id)) return false;
    if (!this.cooldowns.isAvailable(id, now)) return false;
    const remote = this.remoteOpenUntil.get(id);
    if (remote !== undefined && remote > now) return false;
    return this.breakers.canCall(id);
  }

  /** Why isEligible() says no, in a few words (for logs and the admin view); undefined when eligible. */
  reason(id: string, now: number = this.now()): string | undefined {
    if (this.failingChecks.has(id)) return "failing active health checks";
    if (this.cooldowns.cooldownUntil(id) > now) return "cooling down after a rate limit";
    if (this.cooldowns.ejectedUntil(id) > now) {
      return this.cooldowns.ejectionReason(id) === "latency"
        ? "ejected: latency far above its peers"
        : "ejected: consecutive failures";
    }
    if ((this.remoteOpenUntil.get(id) ?? 0) > now) return "breaker open on another replica";
    if (this.breakers.canCall(id)) return undefined;
    return this.breakers.state(id) === "half-open" ? "breaker half-open, probe in flight" : "breaker open";
  }

  /** When an ineligible deployment may serve again (its cooldown, ejection or open breaker ends); 0 if unknown. */
  availableAt(id: string, now: number = this.now()): number {
    const until = Math.max(
      this.cooldowns.cooldownUntil(id),
      this.cooldowns.ejectedUntil(id),
      this.remoteOpenUntil.get(id) ?? 0,
      this.breakers.openUntil(id) ?? 0,
    );
    return until > now ? until : 0;
  }

  /** Out only because a 429 cooled it down (the client's answer is then a 429 too, not a 503). */
  isCoolingDown(id: string, now: number = this.now()): boolean {
    return this.cooldowns.cooldownUntil(id) > now;
  }

  /**
   * Takes the right to call this deployment, right before the upstream attempt: false if it is no longer
   * eligible, or another request just took the one half-open probe (then pick the next candidate). Every
   * true answer must be followed by onSuccess, onFailure or release.
   */
  admit(id: string, now: number = this.now()): boolean {
    return this.isEligible(id, now) && this.breakers.admit(id);
  }

  /** An admitted attempt was never sent (client gone, budget refused): frees a held probe. */
  release(id: string): Promise<void> {
    return this.breakers.release(id);
  }

  /**
   * The attempt answered well. `latencyMs`: time to the first byte is the fairest signal (total time follows
   * the output length). The promise resolves once the breaker has counted it; the hot path need not await.
   */
  onSuccess(id: string, latencyMs?: number): Promise<void> {
    this.cooldowns.recordSuccess(id, this.now(), latencyMs);
    return this.breakers.recordSuccess(id);
  }

  /**
   * The attempt failed. Only failures that speak to the deployment's health count against it: connect,
   * timeout, 5xx and overloaded feed the breaker and ejection; a 429 (or any retry-after) cools it down;
   * 401/402/403/404 mean its key or configuration is broken, so count as failures too; any other client
   * error, a context window or content policy refusal proves it answered, so counts as healthy;
   * a client abort or an unknown error only frees a held probe.
   */
  onFailure(id: string, err: unknown, latencyMs?: number): Promise<void> {
    const now = this.now();
    const failure = classifyFailure(err, now);
    switch (failure.kind) {
      case "connect":
      case "timeout":
      case "server":
      case "overloaded":
        if (failure.retryAfterMs !== undefined) this.coolDown(id, now, failure.retryAfterMs);
        this.cooldowns.recordFailure(id, now, failure.kind === "timeout" ? latencyMs : undefined);
        return this.breakers.recordFailure(id, err);
      case "rate_limited":
        this.coolDown(id, now, failure.retryAfterMs);
        this.cooldowns.recordSuccess(id, now);
        return this.breakers.recordSuccess(id);
      case "client":
        if (isDeploymentFault(err)) {
          this.cooldowns.recordFailure(id, now);
          return this.breakers.recordFailure(id, err);
        }
        this.cooldowns.recordSuccess(id, now);
        return this.breakers.recordSuccess(id);
      case "context_window":
      case "content_policy":
        this.cooldowns.recordSuccess(id, now);
        return this.breakers.recordSuccess(id);
      default:
        return this.breakers.release(id);
    }
  }

  /** Active health checks' verdict (see HealthChecker); a failing deployment is not eligible. */
  markHealthCheck(id: string, passing: boolean): void {
    if (passing) this.failingChecks.delete(id);
    else this.failingChecks.add(id);
  }

  /** Every local breaker state change (for metrics and logs); returns the way to stop listening. */
  onBreakerStateChange(listener: BreakerListener): () => void {
    return this.breakers.onStateChange(listener);
  }

  /** Every deployment with any state so far. */
  snapshot(now: number = this.now()): Record<string, DeploymentHealthSnapshot> {
    const ids = new Set<string>([
      ...this.breakers.ids(),
      ...this.cooldowns.ids(),
      ...this.remoteOpenUntil.keys(),
      ...this.failingChecks,
    ]);
    const out: Record<string, DeploymentHealthSnapshot> = {};
    for (const id of ids) {
      const remote = this.remoteOpenUntil.get(id) ?? 0;
      out[id] = {
        breaker: this.breakers.state(id),
        cooldownUntil: this.cooldowns.cooldownUntil(id),
        ejectedUntil: this.cooldowns.ejectedUntil(id),
        remoteOpenUntil: remote > now ? remote : 0,
        consecutiveFailures: this.cooldowns.consecutiveFailures(id),
        healthCheckPassing: !this.failingChecks.has(id),
      };
    }
    return out;
  }

  /** Stops listening, drops probe timers and closes the store. */
  async close(): Promise<void> {
    this.unsubscribe();
    this.stopListening();
    this.breakers.close();
    await this.store.close();
  }

  private coolDown(id: string, now: number, retryAfterMs: number | undefined): void {
    const until = this.cooldowns.rateLimited(id, now, retryAfterMs);
    void this.store.publishCooldown(id, until);
  }

  private publishBreaker(id: string, state: BreakerState): void {
    if (state === "open") {
      const until = this.breakers.openUntil(id);
      if (until !== undefined) void this.store.publishOpen(id, until);
    } else if (state === "half-open") {
      // Keep the other replicas out while our one probe decides, so the fleet sends one probe, not one each;
      // bounded by one more halfOpenAfter in case this replica dies mid-probe.
      void this.store.publishOpen(id, Date.now() + this.breakers.halfOpenAfterMs(id));
    } else {
      void this.store.publishClosed(id);
    }
  }

  private applyRemote(event: HealthEvent): void {
    if (event.kind === "closed") {
      this.remoteOpenUntil.delete(event.id);
    } else if (event.kind === "open") {
      if (event.untilMs > (this.remoteOpenUntil.get(event.id) ?? 0)) this.remoteOpenUntil.set(event.id, event.untilMs);
    } else {
      this.cooldowns.coolDownUntil(event.id, event.untilMs);
    }
  }
}
