import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { CacheEntry } from "../cache/entry.js";
import type { CacheStats, CacheStore } from "../cache/store.js";
import { closeRedisClient, createRedisClient } from "./redis.js";

export interface RedisCacheStoreOptions {
  /** redis://host:port/db; ignored when `client` is given. */
  url?: string;
  /** A client the caller owns (close() then leaves it open). */
  client?: Redis;
  /** Namespaces every key; tests use a unique one per run. */
  prefix?: string;
  /** A command slower than this reads as a miss (or a dropped write): a slow cache must not slow the request. */
  commandTimeoutMs?: number;
}

// Counts the hit and reads the entry in one round trip; HINCRBY alone would recreate an expired key without a TTL.
const GET_LUA = `
if redis.call('exists', KEYS[1]) == 0 then return false end
redis.call('hincrby', KEYS[1], 'hits', 1)
return redis.call('hmget', KEYS[1], 'body', 'costUsd', 'latencyMs', 'createdAt', 'expiresAt', 'bytes', 'hits')
`;
const GET_SHA = createHash("sha1").update(GET_LUA).digest("hex");

const SCAN_BATCH = 500;
const noop = () => {};

/**
 * The shared tier: one Redis hash per answer, expiring with PX, so every replica serves what any replica stored.
 * Memory here is Redis's to manage (maxmemory with an LRU or LFU policy); GreedyDual-Size-Frequency is the
 * in-process tier's policy (MemoryCacheStore). While Redis is down or slow every call is a quiet miss or no-op:
 * no offline queue, no waiting for a connection, nothing thrown.
 */
export class RedisCacheStore implements CacheStore {
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly prefix: string;

  constructor(options: RedisCacheStoreOptions) {
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      createRedisClient(options.url ?? "redis://127.0.0.1:6379", { commandTimeout: options.commandTimeoutMs ?? 250 });
    // Failures read as misses; without a listener ioredis would print every failed reconnect.
    if (this.ownsClient) this.client.on("error", noop);
    this.prefix = `${options.prefix ?? "tollgate"}:cache:`;
  }

  /** Resolves once connected (true) or after the first failed attempt (false); for startup and tests. */
  ready(): Promise<boolean> {
    if (this.client.status === "ready") return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        this.client.off("ready", done).off("error", done).off("close", done);
        resolve(this.client.status === "ready");
      };
      this.client.on("ready", done).on("error", done).on("close", done);
    });
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    if (this.client.status !== "ready") return undefined;
    try {
      return toEntry(await this.runGet(this.prefix + key));
    } catch {
      return undefined;
    }
  }

  async set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    if (this.client.status !== "ready" || ttlMs <= 0) return;
    const now = Date.now();
    const redisKey = this.prefix + key;
    const fields = {
      body: entry.body,
      costUsd: String(entry.costUsd),
      latencyMs: String(entry.latencyMs),
      createdAt: String(entry.createdAt),
      expiresAt: String(now + ttlMs),
      bytes: String(entry.bytes > 0 ? entry.bytes : Buffer.byteLength(entry.body, "utf8")),
      hits: String(entry.hits ?? 0),
    };
    try {
      await this.client.multi().del(redisKey).hset(redisKey, fields).pexpire(redisKey, Math.ceil(ttlMs)).exec();
    } catch {
      // A dropped write is only a later miss.
    }
  }

  async delete(key: string): Promise<void> {
    if (this.client.status !== "ready") return;
    try {
      await this.client.del(this.prefix + key);
    } catch {
      // It expires by itself.
    }
  }

  /** Scans this gateway's keys (O(entries)): for the admin API and metrics at scrape rate, never per request. */
  async stats(): Promise<CacheStats> {
    const stats: CacheStats = { entries: 0, bytes: 0, evictions: 0 };
    if (this.client.status !== "ready") return stats;
    try {
      let cursor = "0";
      do {
        const [next, keys] = await this.client.scan(
          cursor,
          "MATCH",
          `${escapeGlob(this.prefix)}*`,
          "COUNT",
          SCAN_BATCH,
        );
        cursor = next;
        if (keys.length === 0) continue;
        const pipeline = this.client.pipeline();
        for (const k of keys) pipeline.hget(k, "bytes");
        for (const [err, bytes] of (await pipeline.exec()) ?? []) {
          if (err || bytes === null) continue;
          stats.entries++;
          stats.bytes += Number(bytes) || 0;
        }
      } while (cursor !== "0");
      stats.evictions = evictedKeys(await this.client.info("stats"));
    } catch {
      // Partial figures are still figures.
    }
    return stats;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await closeRedisClient(this.client);
  }

  private async runGet(redisKey: string): Promise<unknown> {
    try {
      return await this.client.evalsha(GET_SHA, 1, redisKey);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
    }
    return this.client.eval(GET_LUA, 1, redisKey);
  }
}

/** The Lua reply (HMGET order) as an entry; anything malformed reads as a miss. */
function toEntry(reply: unknown): CacheEntry | undefined {
  if (!Array.isArray(reply) || reply.length !== 7) return undefined;
  const [body, costUsd, latencyMs, createdAt, expiresAt, bytes, hits] = reply as (string | null)[];
  if (typeof body !== "string") return undefined;
  const entry: CacheEntry = {
    body,
    costUsd: Number(costUsd),
    latencyMs: Number(latencyMs),
    createdAt: Number(createdAt),
    expiresAt: Number(expiresAt),
    bytes: Number(bytes),
    hits: Number(hits),
  };
  if (!Number.isFinite(entry.costUsd) || !Number.isFinite(entry.bytes)) return undefined;
  return entry;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Redis's server-wide count of keys dropped under maxmemory (not only this gateway's). */
function evictedKeys(info: string): number {
  const match = /evicted_keys:(\d+)/.exec(info);
  return match ? Number(match[1]) : 0;
}
