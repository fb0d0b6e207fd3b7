/** Token counts for one call. `input` EXCLUDES the cache-read and cache-write tokens (they are counted apart). */
export interface TokenCounts {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

/** What a call costs, split by kind, and where the price came from. */
export interface PriceQuote {
  costUsd: number;
  inputUsd: number;
  outputUsd: number;
  cacheReadUsd: number;
  cacheWriteUsd: number;
  /** `genai-prices@<version>`, `live <url> <iso time>` or `override <file>`. */
  source: string;
  /** Set when a long-context tier applied, e.g. `>200000`. */
  tier?: string;
  /** Set when the batch discount applied (the fraction taken off). */
  batchDiscount?: number;
}

export interface Capabilities {
  tools?: boolean;
  vision?: boolean;
  jsonMode?: boolean;
  streaming?: boolean;
}

export interface QualityScore {
  score: number;
  source: string;
}

/** One model's current base prices (per million tokens) and what else Tollgate knows of it. */
export interface ModelInfo {
  provider: string;
  model: string;
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
  contextWindow?: number;
  maxOutput?: number;
  capabilities: Capabilities;
  quality?: QualityScore;
  source: string;
}

export interface QuoteOptions {
  deployment?: string;
  region?: string;
  batch?: boolean;
  /** Price as of this time (date-conditional prices); defaults to now. */
  at?: Date;
}

/** Prices per million tokens from above `start` total input tokens (exclusive), as genai-prices counts tiers. */
export interface PriceTier {
  start: number;
  inputPerMTok?: number;
  outputPerMTok?: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
}

/** One row of an imported table (LiteLLM, OpenRouter) or of an override: the internal shape they all share. */
export interface PriceEntry {
  /** Tollgate provider type: openai, azure, anthropic, gemini, bedrock, openai-compatible. */
  provider: string;
  /** Model name as clients send it, lower-cased. */
  model: string;
  region?: string;
  deployment?: string;
  inputPerMTok?: number;
  outputPerMTok?: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
  /** Fraction taken off whatever price applies underneath (0.2 = 20% off). */
  discount?: number;
  tiers?: PriceTier[];
  contextWindow?: number;
  maxOutput?: number;
  capabilities?: Capabilities;
}

/** Imported or override prices with their provenance. */
export interface PriceTable {
  source: string;
  entries: PriceEntry[];
}

/** Per-deployment prices from routes.yaml, as the gateway passes them in. */
export interface DeploymentPriceOverride {
  input_per_mtok?: number;
  output_per_mtok?: number;
  cache_read_per_mtok?: number;
  cache_write_per_mtok?: number;
  discount?: number;
}

/** Hooks the gateway wires to its metrics; src/pricing never imports prom-client. */
export interface PricingObserver {
  updateSucceeded(source: string, seconds: number): void;
  updateFailed(source: string, reason: string, seconds: number): void;
  heldBack(source: string, detail: string): void;
  priceAge?(source: string, ageSeconds: number): void;
}

export type SourceFormat = "genai-prices" | "litellm" | "openrouter";

export interface RefreshSource {
  url: string;
  format: SourceFormat;
  /** Label used in metrics and logs; defaults to the URL. */
  name?: string;
  interval_s: number;
  timeout_ms: number;
  enabled: boolean;
  /** Take only these Tollgate providers' prices from this source (all when unset). */
  providers?: string[];
}

export type RefreshOutcome = "updated" | "failed" | "held_back" | "disabled";

export interface SourceRefresh {
  source: string;
  outcome: RefreshOutcome;
  detail?: string;
  seconds: number;
  /** Where this source's prices now come from after the attempt. */
  active: "live" | "disk" | "bundled";
}

export interface RefreshResult {
  sources: SourceRefresh[];
}

export interface Pricing {
  /** Cost of a call; undefined when no price is known. Synchronous and cached per (provider, model, deployment, region). */
  quote(provider: string, model: string, counts: TokenCounts, opts?: QuoteOptions): PriceQuote | undefined;
  model(provider: string, model: string, opts?: QuoteOptions): ModelInfo | undefined;
  models(): ModelInfo[];
  providers(): string[];
  /** Seconds since each source's prices were fetched (bundled data: since start-up). */
  priceAges(): Record<string, number>;
  refreshNow(): Promise<RefreshResult>;
  start(): void;
  stop(): void;
}
