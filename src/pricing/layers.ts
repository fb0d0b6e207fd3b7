import type { ModelData } from "./config.js";
import { type GenaiModelRef, genaiBasePrices } from "./genai.js";
import type { Capabilities, DeploymentPriceOverride, PriceEntry, PriceTable, TokenCounts } from "./types.js";

/** What a (provider, model, deployment, region) resolves to, computed once and kept in a Map for the hot path. */
export interface Resolved {
  /** Lower-cased model name the genai ref was resolved for. */
  model: string;
  /** Prices from genai-prices (tiers, date conditions) when no flat rates replace them. */
  genai?: GenaiModelRef;
  /** Flat rates (imported table row, or an override merged over the base). */
  rates?: PriceEntry;
  /** Fraction off whatever price applies (override discount). */
  discount: number;
  source: string;
}

export interface Base {
  genai?: GenaiModelRef;
  genaiSource?: string;
  entry?: PriceEntry;
  entrySource?: string;
}

export interface Override {
  entry: PriceEntry;
  source: string;
}

export function fromDeploymentOverride(o: DeploymentPriceOverride): PriceEntry {
  return {
    provider: "",
    model: "",
    inputPerMTok: o.input_per_mtok,
    outputPerMTok: o.output_per_mtok,
    cacheReadPerMTok: o.cache_read_per_mtok,
    cacheWritePerMTok: o.cache_write_per_mtok,
    discount: o.discount,
  };
}

/** The most specific file override: deployment, then region, then provider+model alone. */
export function findFileOverride(
  tables: PriceTable[],
  provider: string,
  model: string,
  deployment?: string,
  region?: string,
): Override | undefined {
  let best: Override | undefined;
  let bestRank = -1;
  for (const t of tables) {
    for (const e of t.entries) {
      if (e.provider !== provider || e.model !== model) continue;
      if (e.deployment !== undefined && e.deployment !== deployment) continue;
      if (e.region !== undefined && e.region !== region) continue;
      const rank = e.deployment !== undefined ? 2 : e.region !== undefined ? 1 : 0;
      if (rank > bestRank) {
        best = { entry: e, source: t.source };
        bestRank = rank;
      }
    }
  }
  return best;
}

/** A row of an imported table for this model, the region's own row first. */
export function findTableEntry(
  tables: PriceTable[],
  provider: string,
  model: string,
  region?: string,
): Override | undefined {
  for (const t of tables) {
    let plain: PriceEntry | undefined;
    for (const e of t.entries) {
      if (e.provider !== provider || e.model !== model) continue;
      if (e.region === undefined) plain ??= e;
      else if (e.region === region) return { entry: e, source: t.source };
    }
    if (plain) return { entry: plain, source: t.source };
  }
  return undefined;
}

const PRICE_FIELDS = ["inputPerMTok", "outputPerMTok", "cacheReadPerMTok", "cacheWritePerMTok"] as const;

/** Combines the base price with an override; undefined when neither gives an input and an output price. */
export function resolvePrices(model: string, base: Base, override: Override | undefined): Resolved | undefined {
  const ov = override?.entry;
  const hasAbsolute = ov !== undefined && PRICE_FIELDS.some((f) => ov[f] !== undefined);
  const discount = ov?.discount ?? 0;
  if (!hasAbsolute) {
    if (base.entry) {
      const src = base.entrySource as string;
      return { model, rates: base.entry, discount, source: override ? `${override.source} on ${src}` : src };
    }
    if (base.genai) {
      const src = base.genaiSource as string;
      return { model, genai: base.genai, discount, source: override ? `${override.source} on ${src}` : src };
    }
    return undefined;
  }
  // Negotiated prices are flat: fields the override leaves out come from the base's untiered rates.
  const under = base.entry ?? (base.genai ? genaiRates(base.genai, model) : undefined);
  const rates: PriceEntry = { provider: ov.provider, model };
  for (const f of PRICE_FIELDS) rates[f] = ov[f] ?? under?.[f];
  if (rates.inputPerMTok === undefined || rates.outputPerMTok === undefined) return undefined;
  return { model, rates, discount, source: (override as Override).source };
}

export function genaiRates(ref: GenaiModelRef, model: string, at?: Date): PriceEntry {
  const p = genaiBasePrices(ref, model, at);
  return {
    provider: ref.providerId,
    model,
    inputPerMTok: p.input_mtok,
    outputPerMTok: p.output_mtok,
    cacheReadPerMTok: p.cache_read_mtok,
    cacheWritePerMTok: p.cache_write_mtok,
  };
}

export interface FlatCost {
  inputUsd: number;
  outputUsd: number;
  cacheReadUsd: number;
  cacheWriteUsd: number;
  tier?: string;
}

/** Cost from flat per-million rates; tiers apply on total input (cache included) strictly above `start`. */
export function flatCost(e: PriceEntry, c: TokenCounts): FlatCost {
  const total = c.input + c.cacheRead + c.cacheWrite;
  let input = e.inputPerMTok ?? 0;
  let output = e.outputPerMTok ?? 0;
  let cacheRead = e.cacheReadPerMTok;
  let cacheWrite = e.cacheWritePerMTok;
  let tier: string | undefined;
  if (e.tiers) {
    for (const t of e.tiers) {
      if (total <= t.start) continue;
      input = t.inputPerMTok ?? input;
      output = t.outputPerMTok ?? output;
      cacheRead = t.cacheReadPerMTok ?? cacheRead;
      cacheWrite = t.cacheWritePerMTok ?? cacheWrite;
      tier = `>${t.start}`;
    }
  }
  // A table without a cache rate bills cached tokens as plain input.
  return {
    inputUsd: (input * c.input) / 1e6,
    outputUsd: (output * c.output) / 1e6,
    cacheReadUsd: ((cacheRead ?? input) * c.cacheRead) / 1e6,
    cacheWriteUsd: ((cacheWrite ?? input) * c.cacheWrite) / 1e6,
    tier,
  };
}

// Dated or versioned variants of a listed model: gpt-4o-2024-08-06, claude-3-5-sonnet-20241022, ...-latest, @001, :0.
const VARIANT_SUFFIX = /^(-\d{4}-?\d{2}-?\d{2}|-latest|-\d{3}|-v\d+(:\d+)?|@.+|:.+)*$/;
// Bedrock ids: "us.anthropic.claude-3-5-sonnet-20241022-v2:0" -> "claude-3-5-sonnet-20241022-v2:0".
const BEDROCK_PREFIX =
  /^(?:(?:us|eu|apac|global|regional|us-gov)\.)?(?:anthropic|meta|amazon|mistral|cohere|ai21|openai)\./;

/** models.yaml row for a model: exact name, then the longest listed name it is a dated/versioned variant of. */
export function findModelData(rows: ModelData[], provider: string, names: string[]): ModelData | undefined {
  let best: ModelData | undefined;
  for (const raw of names) {
    const name = raw.replace(BEDROCK_PREFIX, "");
    for (const row of rows) {
      if (row.providers && !row.providers.includes(provider)) continue;
      if (row.model === name) return row;
      if (name.startsWith(row.model) && VARIANT_SUFFIX.test(name.slice(row.model.length))) {
        if (!best || row.model.length > best.model.length) best = row;
      }
    }
  }
  return best;
}

export function mergeCapabilities(...layers: (Capabilities | undefined)[]): Capabilities {
  const out: Capabilities = {};
  for (const l of layers) {
    if (!l) continue;
    for (const k of ["tools", "vision", "jsonMode", "streaming"] as const) if (l[k] !== undefined) out[k] ??= l[k];
  }
  return out;
}
