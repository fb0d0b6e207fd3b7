import type { CacheEntry } from "./entry.js";

export interface CacheStats {
  /** Live entries (the Redis tier counts this gateway's keys only). */
  entries: number;
  /** Bytes of answers held (sum of entry.bytes). */
  bytes: number;
  /** Entries dropped to make room (expiry is not eviction). The Redis tier reports Redis's own evicted_keys. */
  evictions: number;
}

/**
 * Where cached answers live: in this process (MemoryCacheStore) or in Redis shared by every replica
 * (RedisCacheStore in src/state/cache-redis.ts). A cache must never fail a request, so no method rejects:
 * a store that cannot answer reads as a miss and drops writes.
 */
export interface CacheStore {
  /** The live entry under `key`, counting the hit; undefined when absent, expired or unreachable. */
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores `entry` for `ttlMs` (its expiresAt is set from it); replaces what was there. */
  set(key: string, entry: CacheEntry, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** A snapshot for metrics and the admin API (the Redis tier scans its keys: call it at scrape rate, not per request). */
  stats(): Promise<CacheStats>;
  close(): Promise<void>;
}
