import { createHash, randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import {
  type BudgetCounters,
  type Charge,
  CountersUnavailableError,
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
import { READ_LUA, RESERVE_LUA, SETTLE_LUA, VELOCITY_LUA } from "./redis-scripts.js";

export interface RedisCountersOptions {
  /** redis://host:port/db; ignored when `client` is given. */
  url?: string;
  /** A client the caller owns (close() then leaves it open). */
  client?: Redis;
  /** Namespaces every key; tests use a unique one per run. */
  prefix?: string;
  /** The clock written into reservations and brakes; replicas should agree within a second. */
  now?: () => number;
  /** A command that takes longer than this fails as CountersUnavailableError. */
  commandTimeoutMs?: number;
}

/** Fail fast while Redis is down (no offline queue, one retry) and reconnect in the background. */
export function createRedisClient(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 1_000,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
    ...extra,
  });
}

/** quit() waits for a reply that never comes while Redis is down; disconnect() also stops the reconnecting. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

interface Script {
  lua: string;
  sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

const RESERVE = script(RESERVE_LUA);
const SETTLE = script(SETTLE_LUA);
const READ = script(READ_LUA);
const VELOCITY = script(VELOCITY_LUA);

type Reply = number | string | null | Reply[];

/** Budget counters shared by every replica: one Lua script per reserve, one per settle (EVALSHA, EVAL on NOSCRIPT). */
export class RedisCounters implements BudgetCounters {
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly now: () => number;
  /** Settles on the first connection attempt's outcome; commands wait for it instead of failing at startup. */
  private firstAttempt: Promise<void> | undefined;

  constructor(options: RedisCountersOptions) {
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      createRedisClient(options.url ?? "redis://127.0.0.1:6379", { commandTimeout: options.commandTimeoutMs ?? 500 });
    // Errors surface per call as CountersUnavailableError; without a listener ioredis would log each reconnect failure.
    if (this.ownsClient) this.client.on("error", () => {});
    this.prefix = options.prefix ?? "tollgate";
    this.now = options.now ?? Date.now;
    if (this.client.status !== "ready") {
      this.firstAttempt = new Promise<void>((resolve) => {
        const done = () => {
          this.client.off("ready", done).off("error", done).off("close", done);
          this.firstAttempt = undefined;
          resolve();
        };
        this.client.on("ready", done).on("error", done).on("close", done);
      });
    }
  }

  /** Resolves once the first connection attempt has succeeded or failed (await it at startup if you like). */
  async ready(): Promise<boolean> {
    await this.firstAttempt;
    return this.client.status === "ready";
  }

  async reserve(charges: Charge[], ttlMs: number, options: ReserveOptions = {}): Promise<ReserveResult> {
    const now = this.now();
    const id = randomUUID();
    const n = charges.length;
    const keys: string[] = [];
    for (const c of charges) keys.push(this.bucketKey(c.key));
    for (const c of charges) keys.push(this.zsetKey(c.key));
    keys.push(this.recordKey(id));
    const brakes = options.brakes ?? [];
    for (const b of brakes) keys.push(this.brakeKey(b));
    const args: string[] = [String(now), String(ttlMs), id, String(n), String(ttlMs + SETTLED_MEMORY_MS)];
    const requested: number[] = [];
    for (const c of charges) {
      const micro = toMicroUsdCeil(c.usd);
      requested.push(micro);
      args.push(
        String(micro),
        String(Math.max(0, Math.ceil(c.tokens))),
        c.limitUsd === undefined ? "-1" : String(toMicroUsd(c.limitUsd)),
        c.limitTokens === undefined ? "-1" : String(c.limitTokens),
        c.hard ? "1" : "0",
        keepMs(c, now, ttlMs),
      );
    }
    args.push(charges.map((c) => c.key).join("\n"));
    const reply = (await this.run(RESERVE, keys, args)) as number[];
    const tag = reply[0];
    if (tag === 2) {
      const index = (reply[1] as number) - 1;
      return { ok: false, reason: "brake", index, key: brakes[index] as string, untilMs: reply[2] as number };
    }
    if (tag === 0) {
      const index = (reply[1] as number) - 1;
      const charge = charges[index] as Charge;
      return {
        ok: false,
        reason: "limit",
        index,
        key: charge.key,
        dimension: reply[2] === 1 ? "usd" : "tokens",
        state: stateAt(charge.key, reply, 3),
        limitMicroUsd: charge.limitUsd === undefined ? undefined : toMicroUsd(charge.limitUsd),
        limitTokens: charge.limitTokens,
        requestedMicroUsd: requested[index] as number,
        requestedTokens: charge.tokens,
      };
    }
    return { ok: true, reservationId: id, states: charges.map((c, i) => stateAt(c.key, reply, 1 + i * 4)) };
  }

  async settle(reservationId: string, actual: Charge[]): Promise<boolean> {
    const now = this.now();
    const keys = [this.recordKey(reservationId)];
    for (const c of actual) keys.push(this.bucketKey(c.key));
    for (const c of actual) keys.push(this.zsetKey(c.key));
    const args = [reservationId, this.prefix, String(SETTLED_MEMORY_MS), String(actual.length)];
    for (const c of actual) {
      args.push(String(toMicroUsd(c.usd)), String(Math.max(0, Math.round(c.tokens))), keepMs(c, now, 0));
    }
    return (await this.run(SETTLE, keys, args)) === 1;
  }

  release(reservationId: string): Promise<boolean> {
    return this.settle(reservationId, []);
  }

  async read(keys: string[]): Promise<ScopeState[]> {
    if (keys.length === 0) return [];
    const redisKeys = [...keys.map((k) => this.bucketKey(k)), ...keys.map((k) => this.zsetKey(k))];
    const reply = (await this.run(READ, redisKeys, [String(this.now())])) as number[];
    return keys.map((k, i) => stateAt(k, reply, i * 4));
  }

  incrVelocity(keys: string[], usd: number): Promise<VelocityState[]> {
    return this.velocity(keys, toMicroUsd(usd));
  }

  readVelocity(keys: string[]): Promise<VelocityState[]> {
    return this.velocity(keys, 0);
  }

  async tripBrake(key: string, ms: number): Promise<number> {
    const until = this.now() + ms;
    await this.guard(() => this.client.set(this.brakeKey(key), String(until), "PX", Math.max(1, Math.ceil(ms))));
    return until;
  }

  async readBrakes(keys: string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const now = this.now();
    const values = await this.guard(() => this.client.mget(keys.map((k) => this.brakeKey(k))));
    return values.map((v) => {
      const until = v === null ? 0 : Number(v);
      return until > now ? until : 0;
    });
  }

  async clearBrake(key: string): Promise<void> {
    await this.guard(() => this.client.del(this.brakeKey(key), this.velocityKey(key)));
  }

  async close(): Promise<void> {
    if (this.ownsClient) await closeRedisClient(this.client);
  }

  private async velocity(keys: string[], micro: number): Promise<VelocityState[]> {
    if (keys.length === 0) return [];
    const minute = Math.floor(this.now() / MINUTE_MS);
    const reply = (await this.run(
      VELOCITY,
      keys.map((k) => this.velocityKey(k)),
      [String(minute), String(micro)],
    )) as number[];
    return keys.map((key, i) => ({
      key,
      lastMinuteUsd: microToUsd(reply[i * 3] as number),
      trailingHourUsd: microToUsd(reply[i * 3 + 1] as number),
      trailingMinutes: reply[i * 3 + 2] as number,
    }));
  }

  private async run(s: Script, keys: string[], args: string[]): Promise<Reply> {
    if (this.firstAttempt) await this.firstAttempt;
    try {
      return (await this.client.evalsha(s.sha, keys.length, ...keys, ...args)) as Reply;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw unavailable(err);
    }
    return (await this.guard(() => this.client.eval(s.lua, keys.length, ...keys, ...args))) as Reply;
  }

  private async guard<T>(command: () => Promise<T>): Promise<T> {
    if (this.firstAttempt) await this.firstAttempt;
    try {
      return await command();
    } catch (err) {
      throw unavailable(err);
    }
  }

  private bucketKey(key: string): string {
    return `${this.prefix}:b:${key}`;
  }
  private zsetKey(key: string): string {
    return `${this.prefix}:z:${key}`;
  }
  private recordKey(id: string): string {
    return `${this.prefix}:res:${id}`;
  }
  private velocityKey(key: string): string {
    return `${this.prefix}:v:${key}`;
  }
  private brakeKey(key: string): string {
    return `${this.prefix}:brake:${key}`;
  }
}

/** A script error (ReplyError) is a bug and stays itself; anything else means Redis is unreachable. */
function unavailable(err: unknown): Error {
  if (err instanceof Error && err.name === "ReplyError") return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CountersUnavailableError(`budget counters unavailable: ${message}`, { cause: err });
}

function keepMs(c: Charge, now: number, ttlMs: number): string {
  if (c.periodEndMs === undefined) return "-1";
  return String(Math.max(c.periodEndMs + PERIOD_GRACE_MS - now, ttlMs, 1_000));
}

function stateAt(key: string, reply: number[], at: number): ScopeState {
  return {
    key,
    spentMicroUsd: reply[at] as number,
    reservedMicroUsd: reply[at + 1] as number,
    spentTokens: reply[at + 2] as number,
    reservedTokens: reply[at + 3] as number,
  };
}
