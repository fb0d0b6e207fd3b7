/**
 * Atomic budget counters: the one interface behind which memory (embedded) and Redis (replicas) keep
 * spend, in-flight reservations, spend velocity and emergency brakes. Amounts are integer micro-dollars
 * inside both implementations so that sums never drift.
 */

/** One scope+period bucket to charge, e.g. key "team:blue:alias=chat:monthly:2026-11". */
export interface Charge {
  key: string;
  usd: number;
  tokens: number;
  limitUsd?: number;
  limitTokens?: number;
  /** Hard charges are checked against their limits; soft ones only count. */
  hard: boolean;
  /** When the bucket's period ends (epoch ms); its keys live a day past it. Absent: never expires ("total"). */
  periodEndMs?: number;
}

export interface ScopeState {
  key: string;
  spentMicroUsd: number;
  reservedMicroUsd: number;
  spentTokens: number;
  reservedTokens: number;
}

export interface ReserveOptions {
  /** Brake keys to check in the same atomic step: any active one refuses the whole reservation. */
  brakes?: string[];
}

export type ReserveResult =
  | { ok: true; reservationId: string; states: ScopeState[] }
  | {
      ok: false;
      reason: "limit";
      /** Index into the charges passed to reserve(). */
      index: number;
      key: string;
      dimension: "usd" | "tokens";
      state: ScopeState;
      limitMicroUsd?: number;
      limitTokens?: number;
      requestedMicroUsd: number;
      requestedTokens: number;
    }
  | { ok: false; reason: "brake"; index: number; key: string; untilMs: number };

/** Spend of one scope per minute bucket: the current minute and the 60 whole minutes before it. */
export interface VelocityState {
  key: string;
  lastMinuteUsd: number;
  trailingHourUsd: number;
  /** Minutes from the oldest spend in the trailing hour to now (0 when none): the mean's denominator. */
  trailingMinutes: number;
}

export interface BudgetCounters {
  /** All or nothing: every hard charge fits (spent + reserved + amount <= limit) or nothing is held. */
  reserve(charges: Charge[], ttlMs: number, options?: ReserveOptions): Promise<ReserveResult>;
  /** Drops the holds and adds the actual spend, once: a second call for the same id does nothing and returns false. */
  settle(reservationId: string, actual: Charge[]): Promise<boolean>;
  /** Drops the holds without spend (the request never reached upstream). Same as settle(id, []). */
  release(reservationId: string): Promise<boolean>;
  read(keys: string[]): Promise<ScopeState[]>;
  /** Adds spend to each key's current minute bucket and returns the velocity after it. */
  incrVelocity(keys: string[], usd: number): Promise<VelocityState[]>;
  readVelocity(keys: string[]): Promise<VelocityState[]>;
  /** Sets a brake visible to every replica for ms; returns when it lifts. */
  tripBrake(key: string, ms: number): Promise<number>;
  /** Epoch ms each brake lifts at, or 0 when it is not set. */
  readBrakes(keys: string[]): Promise<number[]>;
  /** Lifts a brake (an admin's reset) and forgets the scope's velocity, which would trip it again at once. */
  clearBrake(key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Thrown by every BudgetCounters call when the backing store (Redis) cannot be reached in time.
 * The budget stage maps it according to budgets.redis_down: fail_closed -> 503, fail_open -> serve unchecked.
 */
export class CountersUnavailableError extends Error {
  readonly code = "counters_unavailable";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CountersUnavailableError";
  }
}

export const MICROS_PER_USD = 1_000_000;

/** Holds round up, so a reservation never covers less than the request may cost. */
export function toMicroUsdCeil(usd: number): number {
  return Math.max(0, Math.ceil(usd * MICROS_PER_USD - 1e-6));
}

export function toMicroUsd(usd: number): number {
  return Math.max(0, Math.round(usd * MICROS_PER_USD));
}

export function microToUsd(micro: number): number {
  return micro / MICROS_PER_USD;
}

/** Bucket keys outlive their period by a day so late settles and utilisation reads still find them. */
export const PERIOD_GRACE_MS = 86_400_000;
/** A settled (or released) reservation id is remembered this long so a repeated settle is a no-op. */
export const SETTLED_MEMORY_MS = 86_400_000;
export const MINUTE_MS = 60_000;
