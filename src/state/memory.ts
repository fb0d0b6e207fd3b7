import { randomUUID } from "node:crypto";
import {
  type BudgetCounters,
  type Charge,
  MINUTE_MS,
  microToUsd,
  PERIOD_GRACE_MS,
  type ReserveOptions,
  type ReserveResult,
  type ScopeState,
  SETTLED_MEMORY_MS,
  toMicroUsd,
  toMicroUsdCeil,
  type VelocityState,
} from "./counters.js";

interface Hold {
  micro: number;
  tokens: number;
  expiresAt: number;
}

interface Bucket {
  spentMicro: number;
  spentTokens: number;
  reservedMicro: number;
  reservedTokens: number;
  holds: Map<string, Hold>;
  /** Earliest hold expiry, so pruning costs nothing until a hold can have expired. */
  nextExpiry: number;
  /** Epoch ms after which the bucket is dropped (Infinity for "total"). */
  dropAt: number;
}

interface ReservationRecord {
  keys: string[];
  done: boolean;
  dropAt: number;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * Embedded counters: every method runs its check and its update in one synchronous block (no await in
 * between), which is the whole of the atomicity argument in a single process.
 */
export class MemoryCounters implements BudgetCounters {
  private readonly buckets = new Map<string, Bucket>();
  private readonly records = new Map<string, ReservationRecord>();
  private readonly velocity = new Map<string, Map<number, number>>();
  private readonly brakes = new Map<string, number>();
  private readonly now: () => number;
  private nextSweep = 0;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  async reserve(charges: Charge[], ttlMs: number, options: ReserveOptions = {}): Promise<ReserveResult> {
    const now = this.now();
    this.sweep(now);
    const brakes = options.brakes ?? [];
    for (let i = 0; i < brakes.length; i++) {
      const key = brakes[i] as string;
      const until = this.brakeUntil(key, now);
      if (until > 0) return { ok: false, reason: "brake", index: i, key, untilMs: until };
    }
    const buckets: Bucket[] = [];
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i] as Charge;
      const bucket = this.bucket(charge.key, now);
      buckets.push(bucket);
      if (!charge.hard) continue;
      const micro = toMicroUsdCeil(charge.usd);
      const limitMicro = charge.limitUsd === undefined ? undefined : toMicroUsd(charge.limitUsd);
      const overUsd = limitMicro !== undefined && bucket.spentMicro + bucket.reservedMicro + micro > limitMicro;
      const overTokens =
        charge.limitTokens !== undefined &&
        bucket.spentTokens + bucket.reservedTokens + charge.tokens > charge.limitTokens;
      if (overUsd || overTokens) {
        return {
          ok: false,
          reason: "limit",
          index: i,
          key: charge.key,
          dimension: overUsd ? "usd" : "tokens",
          state: stateOf(charge.key, bucket),
          limitMicroUsd: limitMicro,
          limitTokens: charge.limitTokens,
          requestedMicroUsd: micro,
          requestedTokens: charge.tokens,
        };
      }
    }
    const id = randomUUID();
    const expiresAt = now + ttlMs;
    const states: ScopeState[] = [];
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i] as Charge;
      const bucket = buckets[i] as Bucket;
      const micro = toMicroUsdCeil(charge.usd);
      const held = bucket.holds.get(id);
      bucket.holds.set(id, {
        micro: micro + (held?.micro ?? 0),
        tokens: charge.tokens + (held?.tokens ?? 0),
        expiresAt,
      });
      bucket.reservedMicro += micro;
      bucket.reservedTokens += charge.tokens;
      if (expiresAt < bucket.nextExpiry) bucket.nextExpiry = expiresAt;
      const dropAt = charge.periodEndMs === undefined ? Number.POSITIVE_INFINITY : charge.periodEndMs + PERIOD_GRACE_MS;
      bucket.dropAt = Math.max(bucket.dropAt, dropAt, expiresAt);
      states.push(stateOf(charge.key, bucket));
    }
    this.records.set(id, {
      keys: charges.map((c) => c.key),
      done: false,
      dropAt: expiresAt + SETTLED_MEMORY_MS,
    });
    return { ok: true, reservationId: id, states };
  }

  async settle(reservationId: string, actual: Charge[]): Promise<boolean> {
    const now = this.now();
    const record = this.records.get(reservationId);
    if (record?.done) return false;
    const keys = new Set(record?.keys ?? []);
    for (const charge of actual) keys.add(charge.key);
    for (const key of keys) {
      const bucket = this.buckets.get(key);
      const hold = bucket?.holds.get(reservationId);
      if (bucket && hold) {
        bucket.holds.delete(reservationId);
        bucket.reservedMicro -= hold.micro;
        bucket.reservedTokens -= hold.tokens;
      }
    }
    for (const charge of actual) {
      const bucket = this.bucket(charge.key, now);
      bucket.spentMicro += toMicroUsd(charge.usd);
      bucket.spentTokens += charge.tokens;
      if (charge.periodEndMs === undefined) bucket.dropAt = Number.POSITIVE_INFINITY;
      else bucket.dropAt = Math.max(bucket.dropAt, charge.periodEndMs + PERIOD_GRACE_MS);
    }
    this.records.set(reservationId, { keys: [...keys], done: true, dropAt: now + SETTLED_MEMORY_MS });
    return true;
  }

  release(reservationId: string): Promise<boolean> {
    return this.settle(reservationId, []);
  }

  async read(keys: string[]): Promise<ScopeState[]> {
    const now = this.now();
    return keys.map((key) => {
      const bucket = this.buckets.get(key);
      if (!bucket) return { key, spentMicroUsd: 0, reservedMicroUsd: 0, spentTokens: 0, reservedTokens: 0 };
      prune(bucket, now);
      return stateOf(key, bucket);
    });
  }

  async incrVelocity(keys: string[], usd: number): Promise<VelocityState[]> {
    const now = this.now();
    const minute = Math.floor(now / MINUTE_MS);
    const micro = toMicroUsd(usd);
    for (const key of keys) {
      let minutes = this.velocity.get(key);
      if (!minutes) {
        minutes = new Map();
        this.velocity.set(key, minutes);
      }
      minutes.set(minute, (minutes.get(minute) ?? 0) + micro);
      for (const m of minutes.keys()) if (m < minute - 60) minutes.delete(m);
    }
    return this.readVelocityAt(keys, minute);
  }

  async readVelocity(keys: string[]): Promise<VelocityState[]> {
    return this.readVelocityAt(keys, Math.floor(this.now() / MINUTE_MS));
  }

  async tripBrake(key: string, ms: number): Promise<number> {
    const until = this.now() + ms;
    this.brakes.set(key, until);
    return until;
  }

  async readBrakes(keys: string[]): Promise<number[]> {
    const now = this.now();
    return keys.map((key) => this.brakeUntil(key, now));
  }

  async clearBrake(key: string): Promise<void> {
    this.brakes.delete(key);
    this.velocity.delete(key);
  }

  async close(): Promise<void> {}

  private readVelocityAt(keys: string[], minute: number): VelocityState[] {
    return keys.map((key) => {
      const minutes = this.velocity.get(key);
      let last = 0;
      let hour = 0;
      let oldest = minute;
      if (minutes) {
        for (const [m, micro] of minutes) {
          if (m === minute) last += micro;
          else if (m >= minute - 60 && m < minute) {
            hour += micro;
            if (m < oldest) oldest = m;
          }
        }
      }
      return {
        key,
        lastMinuteUsd: microToUsd(last),
        trailingHourUsd: microToUsd(hour),
        trailingMinutes: minute - oldest,
      };
    });
  }

  private brakeUntil(key: string, now: number): number {
    const until = this.brakes.get(key);
    if (until === undefined) return 0;
    if (until <= now) {
      this.brakes.delete(key);
      return 0;
    }
    return until;
  }

  private bucket(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = {
        spentMicro: 0,
        spentTokens: 0,
        reservedMicro: 0,
        reservedTokens: 0,
        holds: new Map(),
        nextExpiry: Number.POSITIVE_INFINITY,
        dropAt: 0,
      };
      this.buckets.set(key, bucket);
    } else {
      prune(bucket, now);
    }
    return bucket;
  }

  /** Drops buckets past their period and remembered reservation ids, at most once a minute. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_EVERY_MS;
    for (const [key, bucket] of this.buckets) {
      prune(bucket, now);
      if (bucket.dropAt <= now && bucket.holds.size === 0) this.buckets.delete(key);
    }
    for (const [id, record] of this.records) if (record.dropAt <= now) this.records.delete(id);
    for (const [key, minutes] of this.velocity) {
      const minute = Math.floor(now / MINUTE_MS);
      for (const m of minutes.keys()) if (m < minute - 60) minutes.delete(m);
      if (minutes.size === 0) this.velocity.delete(key);
    }
  }
}

/** An unsettled hold stops counting once its TTL passes (its replica crashed or forgot it). */
function prune(bucket: Bucket, now: number): void {
  if (now < bucket.nextExpiry) return;
  let next = Number.POSITIVE_INFINITY;
  for (const [id, hold] of bucket.holds) {
    if (hold.expiresAt <= now) {
      bucket.holds.delete(id);
      bucket.reservedMicro -= hold.micro;
      bucket.reservedTokens -= hold.tokens;
    } else if (hold.expiresAt < next) {
      next = hold.expiresAt;
    }
  }
  bucket.nextExpiry = next;
}

function stateOf(key: string, bucket: Bucket): ScopeState {
  return {
    key,
    spentMicroUsd: bucket.spentMicro,
    reservedMicroUsd: bucket.reservedMicro,
    spentTokens: bucket.spentTokens,
    reservedTokens: bucket.reservedTokens,
  };
}
