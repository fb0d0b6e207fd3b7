import { createRequire } from "node:module";
import type { Tiktoken, TiktokenBPE } from "js-tiktoken/lite";

export type EncodingName = "o200k_base" | "cl100k_base" | "p50k_base" | "r50k_base";

// CommonJS builds, loaded on first use: the rank files are megabytes of base64 and building an encoder takes
// ~0.7 s (o200k_base, measured), so nothing is paid until a model needs it (or preloadEncoders() at start).
const require = createRequire(import.meta.url);
const RANK_MODULES: Record<EncodingName, string> = {
  o200k_base: "js-tiktoken/ranks/o200k_base",
  cl100k_base: "js-tiktoken/ranks/cl100k_base",
  p50k_base: "js-tiktoken/ranks/p50k_base",
  r50k_base: "js-tiktoken/ranks/r50k_base",
};
const LITE_MODULE = "js-tiktoken/lite";

/** Absolute paths of the CommonJS modules, for the counting worker (which cannot resolve from this file). */
export function encoderModulePaths(): { lite: string; ranks: Record<EncodingName, string> } {
  const ranks = {} as Record<EncodingName, string>;
  for (const [name, mod] of Object.entries(RANK_MODULES)) ranks[name as EncodingName] = require.resolve(mod);
  return { lite: require.resolve(LITE_MODULE), ranks };
}

const encoders = new Map<EncodingName, Tiktoken>();

export function getEncoder(name: EncodingName): Tiktoken {
  let encoder = encoders.get(name);
  if (!encoder) {
    const { Tiktoken: TiktokenClass } = require(LITE_MODULE) as { Tiktoken: new (ranks: TiktokenBPE) => Tiktoken };
    encoder = new TiktokenClass(require(RANK_MODULES[name]) as TiktokenBPE);
    encoders.set(name, encoder);
  }
  return encoder;
}

/** Builds the encoders now (at start-up) so the first request does not pay ~0.7 s. */
export function preloadEncoders(names: EncodingName[] = ["o200k_base", "cl100k_base"]): void {
  for (const name of names) getEncoder(name);
}

// js-tiktoken's encode() costs ~10-30 µs per call before the first token (it rebuilds its special-token regex
// and sets each time), so short texts that repeat across requests (roles, names, system prompts, tool
// definitions) are remembered per encoding, keyed by the text itself (no key string built per lookup), bounded
// by total characters: when full, texts are dropped in the order they came (encoding by encoding) down to half,
// and a hot text dropped is counted again once.
const CACHE_MAX_TEXT = 4096;
const CACHE_MAX_CHARS = 1_000_000;
const cached = new Map<EncodingName, Map<string, number>>();
let cachedChars = 0;

/** Tokens in plain text; special-token strings in user text are counted as text, as the API does. */
export function countTextTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  if (text.length > CACHE_MAX_TEXT) return getEncoder(encoding).encode(text, [], []).length;
  let counts = cached.get(encoding);
  if (counts === undefined) {
    counts = new Map();
    cached.set(encoding, counts);
  }
  const hit = counts.get(text);
  if (hit !== undefined) return hit;
  const tokens = getEncoder(encoding).encode(text, [], []).length;
  counts.set(text, tokens);
  cachedChars += text.length;
  if (cachedChars > CACHE_MAX_CHARS) evictOldestTexts();
  return tokens;
}

function evictOldestTexts(): void {
  for (const counts of cached.values()) {
    for (const text of counts.keys()) {
      if (cachedChars <= CACHE_MAX_CHARS / 2) return;
      counts.delete(text);
      cachedChars -= text.length;
    }
  }
}

/** Provider prefixes ("openai/gpt-4o"), fine-tune names ("ft:gpt-4o-mini:org::id") and case do not matter. */
export function baseModelName(model: string): string {
  let name = model.toLowerCase();
  if (name.startsWith("ft:")) name = name.slice(3);
  const slash = name.lastIndexOf("/");
  if (slash >= 0) name = name.slice(slash + 1);
  return name;
}

// Prefix order matters: "gpt-4o" and "gpt-4.1" before "gpt-4". From tiktoken's model.py MODEL_PREFIX_TO_ENCODING.
const ENCODING_PREFIXES: Array<[string, EncodingName]> = [
  ["gpt-4o", "o200k_base"],
  ["chatgpt-4o", "o200k_base"],
  ["gpt-4.1", "o200k_base"],
  ["gpt-4.5", "o200k_base"],
  ["gpt-5", "o200k_base"],
  ["gpt-oss", "o200k_base"],
  ["o1", "o200k_base"],
  ["o3", "o200k_base"],
  ["o4", "o200k_base"],
  ["codex-mini", "o200k_base"],
  ["gpt-4", "cl100k_base"],
  ["gpt-3.5", "cl100k_base"],
  ["gpt-35", "cl100k_base"], // Azure deployment spelling
  ["text-embedding-3", "cl100k_base"],
  ["text-embedding-ada-002", "cl100k_base"],
  ["text-davinci-003", "p50k_base"],
  ["text-davinci-002", "p50k_base"],
  ["code-", "p50k_base"],
  ["davinci", "r50k_base"],
  ["curie", "r50k_base"],
  ["babbage", "r50k_base"],
  ["ada", "r50k_base"],
];

export interface ModelEncoding {
  readonly encoding: EncodingName;
  readonly known: boolean;
}

// Asked on every request for the same few upstream models: the lower-casing and the prefix scan are done once.
const encodingOf = new Map<string, ModelEncoding>();
const MAX_REMEMBERED_MODELS = 1_000;

/** The encoding for a model, and whether the model was recognised (unknown models fall back to o200k_base). */
export function encodingForModel(model: string): ModelEncoding {
  let found = encodingOf.get(model);
  if (found === undefined) {
    found = lookUpEncoding(baseModelName(model));
    if (encodingOf.size >= MAX_REMEMBERED_MODELS) encodingOf.clear(); // names a client made up, not the config's
    encodingOf.set(model, found);
  }
  return found;
}

function lookUpEncoding(name: string): ModelEncoding {
  for (const [prefix, encoding] of ENCODING_PREFIXES) {
    if (name.startsWith(prefix)) return { encoding, known: true };
  }
  return { encoding: "o200k_base", known: false };
}
