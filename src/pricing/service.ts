import { loadPricingFile, type ModelData, type PricingConfig } from "./config.js";
import {
  BUNDLED_SOURCE,
  bundledProviders,
  checkGenaiData,
  flattenGenai,
  GENAI_PROVIDER_IDS,
  type GenaiProvider,
  genaiCost,
  loadGenaiData,
  resolveGenaiModel,
} from "./genai.js";
import { importLiteLLM, importOpenRouter } from "./importers.js";
import {
  type Base,
  findFileOverride,
  findModelData,
  findTableEntry,
  flatCost,
  fromDeploymentOverride,
  genaiRates,
  mergeCapabilities,
  type Override,
  type Resolved,
  resolvePrices,
} from "./layers.js";
import { type FlatPrices, fetchJson, readDiskCopy, suspiciousChanges, writeDiskCopy } from "./refresh.js";
import type {
  DeploymentPriceOverride,
  ModelInfo,
  PriceEntry,
  PriceQuote,
  PriceTable,
  Pricing,
  PricingObserver,
  QuoteOptions,
  RefreshSource,
  SourceRefresh,
  TokenCounts,
} from "./types.js";

export interface PricingOptions {
  sources?: RefreshSource[];
  cacheDir?: string;
  /** A refresh moving any known price by more than this factor (either way) is held back. Default 10. */
  maxChangeFactor?: number;
  retries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Fraction off batch calls: one figure, or per provider type. Default 0.5. */
  batchDiscount?: number | Record<string, number>;
  /** Pricing files (YAML/JSON) to layer over the database, e.g. pricing/overrides.yaml, pricing/models.yaml. */
  files?: string[];
  /** routes.yaml per-deployment prices, keyed by deployment name. */
  deploymentOverrides?: Record<string, DeploymentPriceOverride>;
  /** Provenance of `deploymentOverrides`, default "routes.yaml". */
  deploymentOverridesFile?: string;
  observer?: PricingObserver;
}

interface SourceState {
  src: RefreshSource;
  label: string;
  active: "live" | "disk" | "bundled";
  /** epoch ms of the fetch behind the active data */
  fetchedAt?: number;
  provenance?: string;
  genai?: GenaiProvider[];
  table?: PriceEntry[];
  flat?: FlatPrices;
  running?: Promise<SourceRefresh>;
  timer?: NodeJS.Timeout;
}

type Parsed = { genai: GenaiProvider[]; raw: unknown } | { table: PriceEntry[] };

const NO_COUNTS: TokenCounts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };

export async function createPricing(options: PricingOptions = {}): Promise<Pricing> {
  const cacheDir = options.cacheDir ?? ".tollgate/pricing-cache";
  const factor = options.maxChangeFactor ?? 10;
  const observer = options.observer;
  const deploymentFile = options.deploymentOverridesFile ?? "routes.yaml";
  const bundled = await bundledProviders();
  const fileOverrides: PriceTable[] = [];
  const modelRows: ModelData[] = [];
  for (const file of options.files ?? []) {
    const loaded = await loadPricingFile(file);
    fileOverrides.push(loaded.overrides);
    modelRows.push(...loaded.models);
  }
  const states: SourceState[] = (options.sources ?? []).map((src) => ({
    src,
    label: src.name ?? src.url,
    active: "bundled",
  }));

  const cache = new Map<string, Resolved | null>();
  let listing: ModelInfo[] | undefined;
  const invalidate = () => {
    cache.clear();
    listing = undefined;
  };

  const parse = async (src: RefreshSource, body: unknown): Promise<Parsed> => {
    if (src.format === "litellm") return { table: importLiteLLM(body) };
    if (src.format === "openrouter") return { table: importOpenRouter(body) };
    return { genai: checkGenaiData(body), raw: body };
  };
  const allowedGenaiIds = (src: RefreshSource) =>
    src.providers ? new Set(src.providers.map((p) => GENAI_PROVIDER_IDS[p] ?? p)) : undefined;
  const flatOf = (src: RefreshSource, parsed: Parsed): FlatPrices => {
    if ("genai" in parsed) return flattenGenai(parsed.genai, allowedGenaiIds(src));
    const out: FlatPrices = new Map();
    for (const e of parsed.table) {
      if (src.providers && !src.providers.includes(e.provider)) continue;
      const row: Record<string, number> = {};
      for (const k of ["inputPerMTok", "outputPerMTok", "cacheReadPerMTok", "cacheWritePerMTok"] as const) {
        const v = e[k];
        if (v !== undefined) row[k] = v;
      }
      out.set(`${e.provider}/${e.model}/${e.region ?? ""}`, row);
    }
    return out;
  };
  const apply = async (st: SourceState, parsed: Parsed, flat: FlatPrices, how: "live" | "disk", at: number) => {
    if ("genai" in parsed) st.genai = await loadGenaiData(parsed.raw);
    else
      st.table = st.src.providers ? parsed.table.filter((e) => st.src.providers?.includes(e.provider)) : parsed.table;
    st.flat = flat;
    st.active = how;
    st.fetchedAt = at;
    st.provenance = `live ${st.src.url} ${new Date(at).toISOString()}`;
    invalidate();
  };
  const loadDisk = async (st: SourceState): Promise<boolean> => {
    const copy = await readDiskCopy(cacheDir, st.src.url, st.src.format);
    if (!copy) return false;
    try {
      const parsed = await parse(st.src, copy.body);
      await apply(st, parsed, flatOf(st.src, parsed), "disk", Date.parse(copy.fetchedAt));
      return true;
    } catch {
      return false;
    }
  };
  for (const st of states) if (st.src.enabled) await loadDisk(st);

  // genai-prices data in use per genai provider id: the first genai-format source holding it, else bundled.
  const genaiFor = (genaiId: string): { data: GenaiProvider[]; source: string } => {
    for (const st of states) {
      if (st.src.format !== "genai-prices" || !st.genai) continue;
      const allowed = allowedGenaiIds(st.src);
      if (!allowed || allowed.has(genaiId)) return { data: st.genai, source: st.provenance as string };
    }
    return { data: bundled, source: BUNDLED_SOURCE };
  };
  const tables = (): PriceTable[] =>
    states.flatMap((st) => (st.table ? [{ source: st.provenance as string, entries: st.table }] : []));
  const batchDiscount = (provider: string): number => {
    const b = options.batchDiscount ?? 0.5;
    return typeof b === "number" ? b : (b[provider] ?? 0.5);
  };

  const resolve = (provider: string, model: string, deployment?: string, region?: string): Resolved | undefined => {
    const key = `${provider}\n${model}\n${deployment ?? ""}\n${region ?? ""}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const name = model.toLowerCase().trim();
    const base: Base = {};
    const row = findTableEntry(tables(), provider, name, region);
    if (row) {
      base.entry = row.entry;
      base.entrySource = row.source;
    } else {
      const g = genaiFor(GENAI_PROVIDER_IDS[provider] ?? provider);
      base.genai = resolveGenaiModel(g.data, provider, name);
      base.genaiSource = g.source;
    }
    const dep = deployment ? options.deploymentOverrides?.[deployment] : undefined;
    const override: Override | undefined = dep
      ? { entry: { ...fromDeploymentOverride(dep), provider, model: name }, source: `override ${deploymentFile}` }
      : findFileOverride(fileOverrides, provider, name, deployment, region);
    const resolved = resolvePrices(name, base, override);
    cache.set(key, resolved ?? null);
    return resolved;
  };

  // Measured ~0.4-0.6 µs per quote (Map hit + a few multiplications); calcPrice itself costs ~40 µs, which is why genai
  // prices without date conditions take the fixed path (test/unit/pricing-quote.test.ts measures it).
  const quote = (provider: string, model: string, counts: TokenCounts, opts?: QuoteOptions): PriceQuote | undefined => {
    const r = resolve(provider, model, opts?.deployment, opts?.region);
    if (!r) return undefined;
    const c = r.rates ? flatCost(r.rates, counts) : r.genai ? genaiCost(r.genai, r.model, counts, opts?.at) : undefined;
    if (!c) return undefined;
    const batch = opts?.batch ? batchDiscount(provider) : 0;
    const keep = (1 - r.discount) * (1 - batch);
    const q: PriceQuote = {
      costUsd: (c.inputUsd + c.outputUsd + c.cacheReadUsd + c.cacheWriteUsd) * keep,
      inputUsd: c.inputUsd * keep,
      outputUsd: c.outputUsd * keep,
      cacheReadUsd: c.cacheReadUsd * keep,
      cacheWriteUsd: c.cacheWriteUsd * keep,
      source: r.source,
    };
    if (c.tier) q.tier = c.tier;
    if (batch) q.batchDiscount = batch;
    return q;
  };

  const model = (provider: string, name: string, opts?: QuoteOptions): ModelInfo | undefined => {
    const r = resolve(provider, name, opts?.deployment, opts?.region);
    const lower = name.toLowerCase().trim();
    const names = r?.genai ? [lower, r.genai.model.id] : [lower];
    const data = findModelData(modelRows, provider, names);
    if (!r) return undefined;
    const rates = r.rates ?? (r.genai ? genaiRates(r.genai, r.model, opts?.at) : undefined);
    if (!rates || rates.inputPerMTok === undefined || rates.outputPerMTok === undefined) return undefined;
    const keep = 1 - r.discount;
    const scale = (v: number | undefined) => (v === undefined ? undefined : v * keep);
    return {
      provider,
      model: lower,
      inputPerMTok: rates.inputPerMTok * keep,
      outputPerMTok: rates.outputPerMTok * keep,
      cacheReadPerMTok: scale(rates.cacheReadPerMTok),
      cacheWritePerMTok: scale(rates.cacheWritePerMTok),
      contextWindow: data?.contextWindow ?? rates.contextWindow ?? r.genai?.contextWindow,
      maxOutput: data?.maxOutput ?? rates.maxOutput,
      capabilities: mergeCapabilities(data?.capabilities, rates.capabilities),
      quality: data?.quality,
      source: r.source,
    };
  };

  const models = (): ModelInfo[] => {
    if (listing) return listing;
    const seen = new Set<string>();
    const out: ModelInfo[] = [];
    const add = (provider: string, name: string) => {
      const k = `${provider}/${name}`;
      if (seen.has(k)) return;
      seen.add(k);
      const info = model(provider, name);
      if (info) out.push(info);
    };
    for (const t of tables()) for (const e of t.entries) add(e.provider, e.model);
    for (const [provider, id] of Object.entries(GENAI_PROVIDER_IDS)) {
      for (const p of genaiFor(id).data) if (p.id === id) for (const m of p.models) add(provider, m.id);
    }
    listing = out;
    return out;
  };

  const refreshSource = async (st: SourceState): Promise<SourceRefresh> => {
    if (!st.src.enabled) return { source: st.label, outcome: "disabled", seconds: 0, active: st.active };
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    let body: unknown;
    let parsed: Parsed;
    try {
      body = await fetchJson(st.src.url, {
        timeoutMs: st.src.timeout_ms,
        retries: options.retries ?? 3,
        backoffBaseMs: options.backoffBaseMs ?? 500,
        backoffMaxMs: options.backoffMaxMs ?? 30_000,
      });
      parsed = await parse(st.src, body);
      const flat = flatOf(st.src, parsed);
      // genai data is checked raw, before the library normalises (and activates) it.
      const before =
        st.flat ?? (st.src.format === "genai-prices" ? flattenGenai(bundled, allowedGenaiIds(st.src)) : new Map());
      const bad = suspiciousChanges(before, flat, factor);
      if (bad.length) {
        const detail = `held back: prices moved more than ${factor}x: ${bad.join("; ")}`;
        observer?.heldBack(st.label, detail);
        return { source: st.label, outcome: "held_back", detail, seconds: seconds(), active: st.active };
      }
      const at = Date.now();
      await apply(st, parsed, flat, "live", at);
      await writeDiskCopy(cacheDir, {
        url: st.src.url,
        format: st.src.format,
        fetchedAt: new Date(at).toISOString(),
        body,
      }).catch(() => undefined); // a read-only disk costs the fallback copy, not the update
      observer?.updateSucceeded(st.label, seconds());
      return { source: st.label, outcome: "updated", seconds: seconds(), active: "live" };
    } catch (err) {
      const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
      // Live failed: keep what we hold; if that is only the bundled data, another replica may have left a copy.
      if (st.active === "bundled") await loadDisk(st);
      observer?.updateFailed(st.label, reason ?? "unknown", seconds());
      return { source: st.label, outcome: "failed", detail: reason, seconds: seconds(), active: st.active };
    }
  };
  const refreshOnce = (st: SourceState): Promise<SourceRefresh> => {
    st.running ??= refreshSource(st).finally(() => {
      st.running = undefined;
    });
    return st.running;
  };
  const priceAges = (): Record<string, number> => {
    const now = Date.now();
    const out: Record<string, number> = {};
    for (const st of states) if (st.fetchedAt !== undefined) out[st.label] = (now - st.fetchedAt) / 1000;
    return out;
  };
  const reportAges = () => {
    if (!observer?.priceAge) return;
    for (const [label, age] of Object.entries(priceAges())) observer.priceAge(label, age);
  };

  return {
    quote,
    model,
    models,
    providers: () => [
      ...new Set([...Object.keys(GENAI_PROVIDER_IDS), "openai-compatible", ...models().map((m) => m.provider)]),
    ],
    priceAges,
    async refreshNow() {
      const sources = await Promise.all(states.map(refreshOnce));
      reportAges();
      return { sources };
    },
    start() {
      for (const st of states) {
        if (!st.src.enabled || st.timer) continue;
        const tick = () => {
          void refreshOnce(st).then(reportAges, () => undefined);
          st.timer = setTimeout(tick, st.src.interval_s * 1000);
          st.timer.unref();
        };
        tick();
      }
    },
    stop() {
      for (const st of states) {
        clearTimeout(st.timer);
        st.timer = undefined;
      }
    },
  };
}

/** Models the gateway routes to that have no known price: for a start-up warning. */
export function unknownPrices(pricing: Pricing, models: { provider: string; model: string }[]): string[] {
  return models
    .filter((m) => pricing.quote(m.provider, m.model, NO_COUNTS) === undefined)
    .map((m) => `${m.provider}/${m.model}`);
}

/** Options from the routes.yaml `pricing:` section plus the deployments' own price overrides. */
export function pricingOptionsFromConfig(
  config: PricingConfig,
  extra: Pick<PricingOptions, "deploymentOverrides" | "observer"> = {},
): PricingOptions {
  return {
    sources: config.sources,
    cacheDir: config.cache_dir,
    maxChangeFactor: config.max_change_factor,
    retries: config.retries,
    batchDiscount: config.batch_discount,
    files: config.files,
    ...extra,
  };
}
