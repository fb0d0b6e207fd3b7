export interface CooldownOptions {
  /** How long a 429 without retry-after benches a deployment. */
  defaultCooldownMs: number;
  /** A retry-after longer than this (a daily quota's "come back tomorrow") is cut to it. */
  maxCooldownMs: number;
}

/** Passive outlier detection, after Envoy's: ejection by consecutive failures and by latency far above peers. */
export interface EjectionOptions {
  /** Failures in a row (as DeploymentHealth counts them) that eject a deployment. */
  consecutiveFailures: number;
  /** The first ejection lasts this long; the n-th lasts n times as long. */
  baseEjectionTimeMs: number;
  /** No ejection lasts longer than this. */
  maxEjectionTimeMs: number;
  /** The multiplier drops by one for each such stretch a deployment spends back in service. */
  multiplierDecayMs: number;
  /** Never more than this share of an alias's deployments ejected at once (rounded down, so one of one: never). */
  maxEjectionPercent: number;
  /** Ejected when its latency EWMA is above this many times the median EWMA of its peers. */
  latencyFactor: number;
  /** Samples a deployment (and each peer counted in the median) needs before its latency is judged. */
  latencyMinSamples: number;
  /** Weight of the newest sample in the EWMA. */
  latencyAlpha: number;
}

export const DEFAULT_COOLDOWN: Readonly<CooldownOptions> = { defaultCooldownMs: 5_000, maxCooldownMs: 300_000 };

export const DEFAULT_EJECTION: Readonly<EjectionOptions> = {
  consecutiveFailures: 5,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  multiplierDecayMs: 30_000,
  maxEjectionPercent: 50,
  latencyFactor: 3,
  latencyMinSamples: 10,
  latencyAlpha: 0.1,
};

export type EjectionReason = "consecutive_failures" | "latency";

interface DeploymentStats {
  cooldownUntil: number;
  ejectedUntil: number;
  /** Ejections so far, decayed while in service: the current ejection-time multiplier. */
  ejections: number;
  consecutiveFailures: number;
  latencyEwma: number;
  latencySamples: number;
  lastEjectionReason: EjectionReason | undefined;
}

/**
 * Benches deployments for a while: after a 429 (cooldown), or when they look broken or slow next to their
 * peers (ejection). Latency statistics are this replica's own; only cooldowns are shared (DeploymentHealth
 * publishes them). isAvailable() is the hot path: one Map lookup and one compare.
 */
export class DeploymentCooldowns {
  private readonly stats = new Map<string, DeploymentStats>();
  /** max(cooldownUntil, ejectedUntil) per deployment: the only thing the hot path reads. */
  private readonly blockedUntil = new Map<string, number>();
  /** For each deployment, the aliases (lists of deployment ids) it belongs to. */
  private groupsOf = new Map<string, readonly (readonly string[])[]>();
  private readonly cooldown: CooldownOptions;
  private readonly ejection: EjectionOptions;

  constructor(cooldown: Partial<CooldownOptions> = {}, ejection: Partial<EjectionOptions> = {}) {
    this.cooldown = { ...DEFAULT_COOLDOWN, ...cooldown };
    this.ejection = { ...DEFAULT_EJECTION, ...ejection };
  }

  /**
   * The aliases and their deployments: the peers for latency and the population for maxEjectionPercent.
   * A deployment in no alias is a group of one, so it is never ejected (its breaker still guards it).
   */
  setGroups(groups: Readonly<Record<string, readonly string[]>>): void {
    const next = new Map<string, (readonly string[])[]>();
    for (const members of Object.values(groups)) {
      const unique = [...new Set(members)];
      for (const id of unique) {
        const list = next.get(id) ?? [];
        list.push(unique);
        next.set(id, list);
      }
    }
    this.groupsOf = next;
  }

  isAvailable(id: string, now: number): boolean {
    const until = this.blockedUntil.get(id);
    return until === undefined || until <= now;
  }

  /** Benches a deployment after a 429 for its retry-after (capped), or the default; returns until when. */
  rateLimited(id: string, now: number, retryAfterMs?: number): number {
    const ms = Math.min(this.cooldown.maxCooldownMs, retryAfterMs ?? this.cooldown.defaultCooldownMs);
    const until = now + Math.max(0, ms);
    this.coolDownUntil(id, until);
    return until;
  }

  /** Benches a deployment until a given time (a cooldown another replica published); never shortens one. */
  coolDownUntil(id: string, untilMs: number): void {
    const s = this.statsOf(id);
    if (untilMs <= s.cooldownUntil) return;
    s.cooldownUntil = untilMs;
    this.refreshBlocked(id, s);
  }

  /** A good answer: resets the failure run and, with a latency, feeds the EWMA (and may eject a slow outlier). */
  recordSuccess(id: string, now: number, latencyMs?: number): void {
    const s = this.statsOf(id);
    s.consecutiveFailures = 0;
    if (latencyMs !== undefined) this.recordLatency(id, s, now, latencyMs);
  }

  /** A failure that speaks to health; ejects after the configured run. Returns whether this ejected it. */
  recordFailure(id: string, now: number, latencyMs?: number): boolean {
    const s = this.statsOf(id);
    s.consecutiveFailures++;
    if (s.consecutiveFailures >= this.ejection.consecutiveFailures && this.eject(id, s, now, "consecutive_failures")) {
      return true;
    }
    // A timed-out call says "at least this slow": it counts towards the latency picture too.
    if (latencyMs !== undefined) return this.recordLatency(id, s, now, latencyMs);
    return false;
  }

  cooldownUntil(id: string): number {
    return this.stats.get(id)?.cooldownUntil ?? 0;
  }

  ejectedUntil(id: string): number {
    return this.stats.get(id)?.ejectedUntil ?? 0;
  }

  ejectionReason(id: string): EjectionReason | undefined {
    return this.stats.get(id)?.lastEjectionReason;
  }

  consecutiveFailures(id: string): number {
    return this.stats.get(id)?.consecutiveFailures ?? 0;
  }

  /** This replica's latency EWMA, or undefined before the first sample. */
  latencyEwma(id: string): number | undefined {
    const s = this.stats.get(id);
    return s === undefined || s.latencySamples === 0 ? undefined : s.latencyEwma;
  }

  /** Deployment ids with any state so far. */
  ids(): IterableIterator<string> {
    return this.stats.keys();
  }

  private recordLatency(id: string, s: DeploymentStats, now: number, latencyMs: number): boolean {
    s.latencyEwma =
      s.latencySamples === 0 ? latencyMs : s.latencyEwma + this.ejection.latencyAlpha * (latencyMs - s.latencyEwma);
    s.latencySamples++;
    if (s.latencySamples < this.ejection.latencyMinSamples) return false;
    const median = this.peerMedianLatency(id, now);
    if (median === undefined || s.latencyEwma <= this.ejection.latencyFactor * median) return false;
    return this.eject(id, s, now, "latency");
  }

  /** Median EWMA of the deployment's peers (across all its aliases) that are in service and have enough samples. */
  private peerMedianLatency(id: string, now: number): number | undefined {
    const groups = this.groupsOf.get(id);
    if (groups === undefined) return undefined;
    const seen = new Set<string>([id]);
    const values: number[] = [];
    for (const members of groups) {
      for (const peer of members) {
        if (seen.has(peer)) continue;
        seen.add(peer);
        const p = this.stats.get(peer);
        if (p === undefined || p.latencySamples < this.ejection.latencyMinSamples || p.ejectedUntil > now) continue;
        values.push(p.latencyEwma);
      }
    }
    if (values.length === 0) return undefined;
    values.sort((a, b) => a - b);
    const mid = values.length >> 1;
    return values.length % 2 === 1
      ? (values[mid] as number)
      : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
  }

  private eject(id: string, s: DeploymentStats, now: number, reason: EjectionReason): boolean {
    if (s.ejectedUntil > now || !this.withinEjectionBudget(id, now)) return false;
    // Envoy-style growth: the n-th ejection in a bad stretch lasts n × base; time back in service earns it down.
    if (s.ejectedUntil > 0) {
      const decayed = Math.floor((now - s.ejectedUntil) / this.ejection.multiplierDecayMs);
      s.ejections = Math.max(0, s.ejections - decayed);
    }
    s.ejections++;
    s.ejectedUntil = now + Math.min(this.ejection.maxEjectionTimeMs, this.ejection.baseEjectionTimeMs * s.ejections);
    s.lastEjectionReason = reason;
    // It comes back with a clean slate: judged again on fresh evidence, not on what ejected it.
    s.consecutiveFailures = 0;
    s.latencySamples = 0;
    s.latencyEwma = 0;
    this.refreshBlocked(id, s);
    return true;
  }

  /** Ejecting this one keeps every alias it belongs to within maxEjectionPercent. */
  private withinEjectionBudget(id: string, now: number): boolean {
    const groups = this.groupsOf.get(id) ?? [[id]];
    for (const members of groups) {
      const allowed = Math.floor((members.length * this.ejection.maxEjectionPercent) / 100);
      let ejected = 1;
      for (const peer of members) {
        if (peer !== id && (this.stats.get(peer)?.ejectedUntil ?? 0) > now) ejected++;
      }
      if (ejected > allowed) return false;
    }
    return true;
  }

  private refreshBlocked(id: string, s: DeploymentStats): void {
    this.blockedUntil.set(id, Math.max(s.cooldownUntil, s.ejectedUntil));
  }

  private statsOf(id: string): DeploymentStats {
    let s = this.stats.get(id);
    if (s === undefined) {
      s = {
        cooldownUntil: 0,
        ejectedUntil: 0,
        ejections: 0,
        consecutiveFailures: 0,
        latencyEwma: 0,
        latencySamples: 0,
        lastEjectionReason: undefined,
      };
      this.stats.set(id, s);
    }
    return s;
  }
}
