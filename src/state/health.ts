/**
 * Deployment health shared between replicas: breakers that opened and cooldowns after a 429. Latency
 * statistics and outlier ejection stay per replica on purpose: each replica measures its own network path,
 * and sharing every sample would put Redis on the hot path for little gain.
 */
export type HealthEvent =
  | { kind: "open"; id: string; untilMs: number }
  | { kind: "closed"; id: string }
  | { kind: "cooldown"; id: string; untilMs: number };

export type HealthListener = (event: HealthEvent) => void;

/** What is known to be open or cooling down right now, per deployment id (ms since the epoch). */
export interface HealthEntry {
  id: string;
  openUntil?: number;
  cooldownUntil?: number;
}

/**
 * Publishing never throws and never waits on a dead store: shared health is a hint that saves other replicas
 * a few failed calls, and each replica's own breakers still protect it when the hint is lost.
 */
export interface HealthStore {
  publishOpen(id: string, untilMs: number): Promise<void>;
  publishClosed(id: string): Promise<void>;
  publishCooldown(id: string, untilMs: number): Promise<void>;
  /** Events published by other replicas (never this one's own); `onResync` when some may have been missed. */
  subscribe(listener: HealthListener, onResync?: () => void): () => void;
  /** Everything still in force, for load-at-start and after a resync; empty when the store is unreachable. */
  snapshot(): Promise<HealthEntry[]>;
  close(): Promise<void>;
}

/** One replica, no sharing: remembers what it published (for snapshot) and has nobody to tell. */
export class MemoryHealthStore implements HealthStore {
  private readonly openUntil = new Map<string, number>();
  private readonly cooldownUntil = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async publishOpen(id: string, untilMs: number): Promise<void> {
    this.openUntil.set(id, untilMs);
  }

  async publishClosed(id: string): Promise<void> {
    this.openUntil.delete(id);
  }

  async publishCooldown(id: string, untilMs: number): Promise<void> {
    if (untilMs > (this.cooldownUntil.get(id) ?? 0)) this.cooldownUntil.set(id, untilMs);
  }

  subscribe(_listener: HealthListener, _onResync?: () => void): () => void {
    return () => {};
  }

  async snapshot(): Promise<HealthEntry[]> {
    const now = this.now();
    const byId = new Map<string, HealthEntry>();
    for (const [id, until] of this.openUntil) {
      if (until > now) byId.set(id, { id, openUntil: until });
    }
    for (const [id, until] of this.cooldownUntil) {
      if (until > now) byId.set(id, { ...(byId.get(id) ?? { id }), cooldownUntil: until });
    }
    return [...byId.values()];
  }

  async close(): Promise<void> {
    this.openUntil.clear();
    this.cooldownUntil.clear();
  }
}
