import { hash } from "node:crypto";
import type { ChatCompletionRequest } from "../openai/schema.js";

/**
 * Body fields that never change the answer: how it is delivered (stream, stream_options), who asked (user,
 * metadata, safety_identifier), what the upstream keeps or bills (store, service_tier, prompt_cache_*), and
 * model (the alias, passed apart, stands for it). Every other field is in the key: the named ones below
 * (messages, tools, tool_choice, response_format, sampling, seed, n, token limits, stop, penalties, logit_bias,
 * logprobs, parallel_tool_calls, reasoning_effort, modalities, audio, prediction) and, deliberately, any field
 * OpenAI adds later (e.g. verbosity, web_search_options): an unknown field costs a miss, never a wrong answer.
 */
const NOT_IN_KEY: ReadonlySet<string> = new Set([
  "model",
  "stream",
  "stream_options",
  "user",
  "metadata",
  "store",
  "service_tier",
  "safety_identifier",
  "prompt_cache_key",
  "prompt_cache_retention",
]);

/** Bumped when what goes into the key changes, so old entries are never read under a new meaning. */
const KEY_VERSION_JSON = JSON.stringify("tollgate-cache-v1");

/**
 * The exact-match cache key: SHA-256 hex of the canonical JSON (object keys sorted at every depth, arrays in
 * order) of the alias, the namespace (who may share the answer) and every answer-changing request field. A
 * top-level null reads as absent, as OpenAI treats it. About 5 µs for a three-message request (measured in
 * test/unit/cache-exact.test.ts: ~2 µs canonical JSON, ~1 µs SHA-256).
 */
export function cacheKey(request: ChatCompletionRequest, alias: string, namespace: string): string {
  const body = request as Record<string, unknown>;
  const fields = Object.keys(body).sort();
  let json = `[${KEY_VERSION_JSON},${JSON.stringify(namespace)},${JSON.stringify(alias)},{`;
  let first = true;
  for (const field of fields) {
    const value = body[field];
    if (value === undefined || value === null || NOT_IN_KEY.has(field)) continue;
    if (!first) json += ",";
    json += `${quotedKey(field)}:${canonicalJson(value)}`;
    first = false;
  }
  json += "}]";
  // One-shot crypto.hash (Node >= 20.12) is about half the cost of createHash().update().digest() here.
  return hash("sha256", json, "hex");
}

interface MemoizedKey {
  alias: string;
  namespace: string;
  key: string;
}

/**
 * cacheKey() remembered per request object. The server hands every repeat of the same body the same frozen
 * object (ParsedBodies), so a repeated request (every exact hit) skips the canonical JSON and the SHA-256,
 * ~7% of a hit's CPU under load (measured with --cpu-prof). An entry lives as long as its request object.
 */
export class ExactKeys {
  private readonly byRequest = new WeakMap<ChatCompletionRequest, MemoizedKey>();

  keyOf(request: ChatCompletionRequest, alias: string, namespace: string): string {
    const known = this.byRequest.get(request);
    if (known !== undefined && known.alias === alias && known.namespace === namespace) return known.key;
    const key = cacheKey(request, alias, namespace);
    this.byRequest.set(request, { alias, namespace, key });
    return key;
  }
}

/**
 * JSON with object keys sorted at every depth, so two requests that differ only in key order or whitespace
 * serialise alike. Undefined members are left out and undefined array items become null, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      const item: unknown = value[i];
      out += item === undefined ? "null" : canonicalJson(item);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (!first) out += ",";
    out += `${quotedKey(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return `${out}}`;
}

// Object keys come from a small vocabulary (role, content, type, ...): quoting each once saves ~30% of the key's cost.
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 4_096;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}
