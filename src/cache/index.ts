// The response cache's exact tier. app.ts picks the store (MemoryCacheStore, or RedisCacheStore from
// src/state/cache-redis.ts when Redis is configured); the cache stage keys, looks up, replays and stores.
export { completionFromSse, StreamAccumulator } from "./accumulate.js";
export {
  type CacheEntry,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionChunk,
  type ChatCompletionChunkChoice,
  type ChatCompletionMessage,
  type ChoiceLogprobs,
  type ChunkDelta,
  cachedCompletion,
  makeCacheEntry,
  type NewEntry,
  type ToolCallDelta,
} from "./entry.js";
export { cacheKey, canonicalJson, ExactKeys } from "./key.js";
export { MemoryCacheStore, type MemoryCacheStoreOptions } from "./memory-store.js";
export { isReplayable, type ReplayOptions, replayAsJson, replayAsSse } from "./replay.js";
export type { CacheStats, CacheStore } from "./store.js";
