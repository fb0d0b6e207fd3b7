// The only module that imports @pydantic/genai-prices: everything else sees Tollgate's own types.
import {
  calcPrice,
  type ModelInfo as GenaiModel,
  type Provider as GenaiProvider,
  type ModelPrice,
  type ProviderDataPayload,
  updatePrices,
  waitForUpdate,
} from "@pydantic/genai-prices";
import { z } from "zod";
import type { TokenCounts } from "./types.js";

export type { GenaiProvider };

/** Pinned in package.json; test/unit/pricing-genai.test.ts checks it against the installed package. */
export const GENAI_PRICES_VERSION = "0.1.8";
export const BUNDLED_SOURCE = `genai-prices@${GENAI_PRICES_VERSION}`;

/** Tollgate provider type -> genai-prices provider id. openai-compatible is matched by model name across providers. */
export const GENAI_PROVIDER_IDS: Readonly<Record<string, string>> = {
  openai: "openai",
  azure: "azure",
  anthropic: "anthropic",
  gemini: "google",
  bedrock: "aws",
};
// For openai-compatible upstreams: model makers first, so "gpt-4o" is OpenAI's price and not a reseller's.
const COMPATIBLE_ORDER = ["openai", "anthropic", "google", "mistral", "deepseek", "x-ai", "cohere", "moonshotai"];

// Captured at import, before any update replaces the library's active data.
const bundledData: Promise<GenaiProvider[]> = waitForUpdate().then((d) => d ?? []);
let setLibraryData: ((data: ProviderDataPayload) => void) | undefined;
updatePrices(({ setProviderData }) => {
  setLibraryData = setProviderData;
});

export function bundledProviders(): Promise<GenaiProvider[]> {
  return bundledData;
}

const priceValue = z.union([
  z.number().nonnegative(),
  z.object({ base: z.number().nonnegative(), tiers: z.array(z.object({ start: z.number(), price: z.number() })) }),
]);
const pricesSchema = z.record(z.string(), priceValue);
const GenaiDataSchema = z
  .array(
    z
      .object({
        id: z.string(),
        name: z.string(),
        api_pattern: z.string(),
        models: z.array(
          z
            .object({
              id: z.string(),
              match: z.record(z.string(), z.unknown()),
              prices: z.union([
                pricesSchema,
                z.array(z.object({ constraint: z.record(z.string(), z.unknown()).optional(), prices: pricesSchema })),
              ]),
            })
            .loose(),
        ),
      })
      .loose(),
  )
  .min(1);

/** Throws unless `raw` has the shape of genai-prices' data file (zod; garbage is a failed refresh). */
export function checkGenaiData(raw: unknown): GenaiProvider[] {
  GenaiDataSchema.parse(raw);
  return raw as GenaiProvider[];
}

/**
 * Validates a downloaded genai-prices data file and normalises it through the library's own update hook
 * (`updatePrices` -> `setProviderData`), which also makes it the library's active data. Throws on garbage.
 */
export async function loadGenaiData(raw: unknown): Promise<GenaiProvider[]> {
  checkGenaiData(raw);
  if (!setLibraryData) throw new Error("genai-prices update hook not registered");
  setLibraryData(raw as GenaiProvider[]);
  const applied = await waitForUpdate();
  if (!applied) throw new Error("genai-prices rejected the data");
  return applied;
}

/** A resolved model: the one-model provider we hand calcPrice so the hot path skips the library's model search. */
export interface GenaiModelRef {
  providerId: string;
  model: GenaiModel;
  single: GenaiProvider;
  contextWindow?: number;
  /** Set when the price has no date condition and only token keys we can price directly (the fast path). */
  fixed?: ModelPrice;
}

// Keys whose usage Tollgate never reports (audio, images, web searches, 1h cache writes) cost nothing here, so a price
// made of these and the four token keys can skip calcPrice (~40 µs) for a few multiplications. test/unit/pricing-genai
// checks the fast path against calcPrice for every bundled model of the mapped providers.
const FAST_KEYS = new Set([
  "input_mtok",
  "output_mtok",
  "cache_read_mtok",
  "cache_write_mtok",
  "cache_write_1h_mtok",
  "web_searches_kcount",
  "storage_searches_kcount",
  "input_audio_mtok",
  "output_audio_mtok",
  "cache_audio_read_mtok",
  "input_image_mtok",
  "output_image_mtok",
  "cache_image_read_mtok",
  "input_video_mtok",
  "output_video_mtok",
  "output_reasoning_mtok",
]);

function fastPrice(model: GenaiModel, selected: ModelPrice): ModelPrice | undefined {
  if (Array.isArray(model.prices)) return undefined;
  for (const k in selected) if (selected[k] !== undefined && !FAST_KEYS.has(k)) return undefined;
  return selected;
}

/** Finds `model` for a Tollgate provider type; undefined if genai-prices has no price for it. Not on the hot path. */
export function resolveGenaiModel(
  data: GenaiProvider[],
  providerType: string,
  model: string,
): GenaiModelRef | undefined {
  const id = GENAI_PROVIDER_IDS[providerType];
  let candidates: GenaiProvider[];
  if (id) candidates = data.filter((p) => p.id === id);
  else if (providerType === "openai-compatible") {
    const rank = (p: GenaiProvider) => {
      const i = COMPATIBLE_ORDER.indexOf(p.id);
      return i === -1 ? COMPATIBLE_ORDER.length : i;
    };
    candidates = [...data].sort((a, b) => rank(a) - rank(b));
  } else return undefined;
  const names = [model];
  // OpenRouter-style "openai/gpt-4o": also try without the vendor prefix.
  if (providerType === "openai-compatible" && model.includes("/")) names.push(model.slice(model.lastIndexOf("/") + 1));
  for (const name of names) {
    for (const p of candidates) {
      const found = calcPrice({ input_tokens: 0, output_tokens: 0 }, name, { provider: p });
      if (!found) continue;
      const { match: _match, ...rest } = found.model;
      const single: GenaiProvider = {
        id: p.id,
        name: p.name,
        api_pattern: p.api_pattern,
        models: [{ ...rest, match: { equals: model } }],
      };
      return {
        providerId: p.id,
        model: found.model,
        single,
        contextWindow: found.model.context_window,
        fixed: fastPrice(found.model, found.model_price),
      };
    }
  }
  return undefined;
}

export interface GenaiCost {
  costUsd: number;
  inputUsd: number;
  outputUsd: number;
  cacheReadUsd: number;
  cacheWriteUsd: number;
  tier?: string;
}

/** Cost through the library (tiers, date-conditional prices); `model` must be the name the ref was resolved for. */
export function genaiCost(ref: GenaiModelRef, model: string, counts: TokenCounts, at?: Date): GenaiCost | undefined {
  // genai-prices counts input_tokens as the total, cache reads and writes included.
  const total = counts.input + counts.cacheRead + counts.cacheWrite;
  if (ref.fixed) return fixedCost(ref.fixed, counts, total);
  const r = calcPrice(
    {
      input_tokens: total,
      cache_read_tokens: counts.cacheRead,
      cache_write_tokens: counts.cacheWrite,
      output_tokens: counts.output,
    },
    model,
    { provider: ref.single, timestamp: at },
  );
  if (!r) return undefined;
  const mp = r.model_price;
  // Attribute cache tokens the way fixedCost does: their own rate, else the input rate (as the library bills them).
  const inputRate = rateAt(mp.input_mtok, total);
  const cacheReadRate = mp.cache_read_mtok === undefined ? inputRate : rateAt(mp.cache_read_mtok, total);
  const cacheWriteRate = mp.cache_write_mtok === undefined ? inputRate : rateAt(mp.cache_write_mtok, total);
  const cacheReadUsd = (cacheReadRate * counts.cacheRead) / 1e6;
  const cacheWriteUsd = (cacheWriteRate * counts.cacheWrite) / 1e6;
  const tierStart = activeTier(mp, total);
  return {
    costUsd: r.total_price,
    inputUsd: r.input_price - cacheReadUsd - cacheWriteUsd,
    outputUsd: r.output_price,
    cacheReadUsd,
    cacheWriteUsd,
    tier: tierStart === undefined ? undefined : `>${tierStart}`,
  };
}

function fixedCost(mp: ModelPrice, c: TokenCounts, total: number): GenaiCost {
  const input = rateAt(mp.input_mtok, total);
  // Without its own rate, a cache token is billed as input (genai-prices' unit hierarchy does the same).
  const cacheRead = mp.cache_read_mtok === undefined ? input : rateAt(mp.cache_read_mtok, total);
  const cacheWrite = mp.cache_write_mtok === undefined ? input : rateAt(mp.cache_write_mtok, total);
  const inputUsd = (input * c.input) / 1e6;
  const cacheReadUsd = (cacheRead * c.cacheRead) / 1e6;
  const cacheWriteUsd = (cacheWrite * c.cacheWrite) / 1e6;
  const outputUsd = (rateAt(mp.output_mtok, total) * c.output) / 1e6;
  const tierStart = activeTier(mp, total);
  return {
    costUsd: inputUsd + cacheReadUsd + cacheWriteUsd + outputUsd,
    inputUsd,
    outputUsd,
    cacheReadUsd,
    cacheWriteUsd,
    tier: tierStart === undefined ? undefined : `>${tierStart}`,
  };
}

type PriceValue = ModelPrice[string];

/** Per-million rate for `totalInput` tokens, as genai-prices picks tiers (strictly above `start`). */
export function rateAt(value: PriceValue, totalInput: number): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  let rate = value.base;
  for (const t of value.tiers) if (totalInput > t.start) rate = t.price;
  return rate;
}

function activeTier(mp: ModelPrice, totalInput: number): number | undefined {
  let start: number | undefined;
  for (const key in mp) {
    const v = mp[key];
    if (typeof v !== "object") continue;
    for (const t of v.tiers) if (totalInput > t.start && (start === undefined || t.start > start)) start = t.start;
  }
  return start;
}

/** The base prices in effect at `at` (no tier), for listings and for ModelInfo. */
export function genaiBasePrices(ref: GenaiModelRef, model: string, at?: Date): Record<string, number> {
  const r = calcPrice({ input_tokens: 0, output_tokens: 0 }, model, { provider: ref.single, timestamp: at });
  const out: Record<string, number> = {};
  if (!r) return out;
  for (const [k, v] of Object.entries(r.model_price)) if (v !== undefined) out[k] = rateAt(v, 0);
  return out;
}

/** Flat view of every model's token prices, keyed `<provider>/<model>#<price entry>`, for the refresh sanity check. */
export function flattenGenai(data: GenaiProvider[], providerIds?: Set<string>): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const p of data) {
    if (providerIds && !providerIds.has(p.id)) continue;
    for (const m of p.models) {
      const list = Array.isArray(m.prices) ? m.prices.map((c) => c.prices) : [m.prices];
      list.forEach((prices, i) => {
        const row: Record<string, number> = {};
        for (const k of ["input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok"]) {
          const v = prices[k];
          if (v !== undefined) row[k] = rateAt(v, 0);
        }
        out.set(`${p.id}/${m.id}#${i}`, row);
      });
    }
  }
  return out;
}
