import type { ToolCall, Usage } from "../openai/schema.js";

/**
 * The OpenAI chat.completion and chat.completion.chunk shapes the cache stores, rebuilds and replays. Only the
 * fields the cache reads or writes are named; the rest of a provider's answer is not kept.
 */
export interface ChatCompletionMessage {
  role: "assistant";
  content: string | null;
  refusal: string | null;
  tool_calls?: ToolCall[];
}

/** OpenAI's per-token logprobs, kept opaque: the cache only concatenates and replays them. */
export interface ChoiceLogprobs {
  content?: unknown[] | null;
  refusal?: unknown[] | null;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  finish_reason: string | null;
  logprobs: ChoiceLogprobs | null;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint?: string | null;
  service_tier?: string | null;
  choices: ChatCompletionChoice[];
  usage?: Usage;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  /** "function" for every tool call the cache keeps. */
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface ChunkDelta {
  role?: string;
  content?: string | null;
  refusal?: string | null;
  tool_calls?: ToolCallDelta[];
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: ChunkDelta;
  finish_reason: string | null;
  logprobs?: ChoiceLogprobs | null;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint?: string | null;
  service_tier?: string | null;
  choices: ChatCompletionChunkChoice[];
  usage?: Usage | null;
}

/** One cached answer and what it saves each time it is served instead of calling upstream. */
export interface CacheEntry {
  /** The chat.completion JSON as the client got it, in the non-stream form (streams are rebuilt first). */
  body: string;
  /** USD the original upstream call cost: what a hit saves, and what GDSF weighs. */
  costUsd: number;
  /** Upstream latency saved per hit. */
  latencyMs: number;
  createdAt: number;
  expiresAt: number;
  /** UTF-8 size of `body`: what the entry costs the memory tier. */
  bytes: number;
  /** Times served from the cache so far (as the store counts them). */
  hits?: number;
}

export interface NewEntry {
  /** The completion object, or its JSON already serialised (kept byte for byte). */
  completion: ChatCompletion | string;
  costUsd: number;
  latencyMs: number;
  ttlMs: number;
  now?: number;
}

/** Builds an entry with its size and expiry filled in. */
export function makeCacheEntry(input: NewEntry): CacheEntry {
  const body = typeof input.completion === "string" ? input.completion : JSON.stringify(input.completion);
  const now = input.now ?? Date.now();
  return {
    body,
    costUsd: Math.max(0, input.costUsd),
    latencyMs: Math.max(0, input.latencyMs),
    createdAt: now,
    expiresAt: now + input.ttlMs,
    bytes: Buffer.byteLength(body, "utf8"),
  };
}

/** The stored completion as an object (for replaying it as a stream). */
export function cachedCompletion(entry: CacheEntry): ChatCompletion {
  return JSON.parse(entry.body) as ChatCompletion;
}
