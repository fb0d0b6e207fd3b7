import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { baseModelName } from "./encoding.js";

export type ProviderType = "openai" | "openai-compatible" | "azure" | "anthropic" | "gemini" | "bedrock" | "mock";

export interface RatioState {
  /** Provider tokens per tiktoken token. */
  ratio: number;
  samples: number;
  updatedAt: number;
}

/** Where learned ratios live: a JSON file by default; the gateway may give a shared (Redis) one. */
export interface RatioStore {
  load(): Promise<Record<string, RatioState>>;
  save(all: Record<string, RatioState>): Promise<void>;
  /** Writes anything a debounced save still holds (at shutdown). */
  flush?(): Promise<void>;
}

// Seeds are guesses from public tokenizer comparisons on English text, not measurements; they only set where
// learning starts. Claude's tokenizer yields roughly 10-20% more tokens than o200k/cl100k, Gemini's about the
// same to 10% more, Llama 3 (a 128k tiktoken-style vocabulary) about the same, Mistral's 32k vocabulary more.
const FAMILY_SEEDS: Array<[RegExp, number]> = [
  [/claude|anthropic/, 1.15],
  [/gemini|gemma/, 1.05],
  [/llama|meta\./, 1.0],
  [/mistral|mixtral|codestral/, 1.15],
  [/nova|titan|amazon\./, 1.1],
  [/command|cohere/, 1.1],
  [/deepseek|qwen/, 1.05],
];
const PROVIDER_SEEDS: Record<ProviderType, number> = {
  openai: 1,
  azure: 1,
  mock: 1,
  anthropic: 1.15,
  gemini: 1.05,
  bedrock: 1.1,
  "openai-compatible": 1,
};

export function seedRatio(provider: ProviderType, model: string): number {
  if (provider === "openai" || provider === "azure" || provider === "mock") return 1;
  const name = model.toLowerCase();
  for (const [pattern, ratio] of FAMILY_SEEDS) if (pattern.test(name)) return ratio;
  return PROVIDER_SEEDS[provider];
}

export interface TokenCalibratorOptions {
  store?: RatioStore;
  /**
   * Floor of the learning rate. Early samples are averaged with the seed (rate 1/(n+1)), so a few requests
   * replace a wrong guess; from then on an exponentially weighted mean with this rate (~1/rate samples of
   * memory) follows tokenizer or prompt-mix drift. Default 0.1.
   */
  minRate?: number;
}

// A single sample outside this band is a bad report (or a cache/tool accounting quirk), not a tokenizer ratio.
const MIN_SAMPLE_RATIO = 0.25;
const MAX_SAMPLE_RATIO = 4;

interface NamedPair {
  key: string;
  seed: number;
}
const MAX_REMEMBERED_MODELS = 1_000;

/** Estimates other providers' prompt tokens from the tiktoken count with a learned per-(provider, model) ratio. */
const SAVE_EVERY_MS = 1000;

export class TokenCalibrator {
  private dirty = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly states = new Map<string, RatioState>();
  private readonly pairs = new Map<ProviderType, Map<string, NamedPair>>();
  private readonly store: RatioStore | undefined;
  private readonly minRate: number;

  constructor(options: TokenCalibratorOptions = {}) {
    this.store = options.store;
    this.minRate = options.minRate ?? 0.1;
  }

  static key(provider: ProviderType, model: string): string {
    return `${provider}:${baseModelName(model)}`;
  }

  /** key() and seedRatio() for a pair, worked out once: ratio() runs for every request to another provider. */
  private named(provider: ProviderType, model: string): NamedPair {
    let byModel = this.pairs.get(provider);
    if (byModel === undefined) {
      byModel = new Map();
      this.pairs.set(provider, byModel);
    }
    let pair = byModel.get(model);
    if (pair === undefined) {
      pair = { key: TokenCalibrator.key(provider, model), seed: seedRatio(provider, model) };
      if (byModel.size >= MAX_REMEMBERED_MODELS) byModel.clear();
      byModel.set(model, pair);
    }
    return pair;
  }

  /** Loads persisted ratios (call once at start; later observations win over what was loaded). */
  async load(): Promise<void> {
    if (!this.store) return;
    const all = await this.store.load();
    for (const [key, state] of Object.entries(all)) {
      if (Number.isFinite(state.ratio) && state.ratio > 0 && !this.states.has(key)) this.states.set(key, state);
    }
  }

  ratio(provider: ProviderType, model: string): number {
    const pair = this.named(provider, model);
    return this.states.get(pair.key)?.ratio ?? pair.seed;
  }

  estimate(provider: ProviderType, model: string, tiktokenTokens: number): number {
    return Math.ceil(tiktokenTokens * this.ratio(provider, model));
  }

  observe(provider: ProviderType, model: string, estimatedTiktokenTokens: number, actualPromptTokens: number): void {
    if (!(estimatedTiktokenTokens > 0) || !(actualPromptTokens > 0)) return;
    const sample = actualPromptTokens / estimatedTiktokenTokens;
    if (sample < MIN_SAMPLE_RATIO || sample > MAX_SAMPLE_RATIO) return;
    const { key, seed } = this.named(provider, model);
    const previous = this.states.get(key);
    const samples = (previous?.samples ?? 0) + 1;
    const current = previous?.ratio ?? seed;
    const rate = Math.max(1 / (samples + 1), this.minRate); // the seed counts as one sample
    this.states.set(key, { ratio: current + rate * (sample - current), samples, updatedAt: Date.now() });
    this.dirty = true;
    // At most one snapshot handed to the store per second, not one per request.
    if (this.store && this.saveTimer === undefined) {
      this.saveTimer = setTimeout(() => this.saveNow(), SAVE_EVERY_MS);
      this.saveTimer.unref();
    }
  }

  private saveNow(): Promise<void> {
    this.saveTimer = undefined;
    if (!this.dirty || !this.store) return Promise.resolve();
    this.dirty = false;
    return this.store.save(this.snapshot()).catch(() => {}); // best effort: a lost save costs a few samples
  }

  snapshot(): Record<string, RatioState> {
    return Object.fromEntries(this.states);
  }

  async flush(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    await this.saveNow();
    await this.store?.flush?.();
  }
}

/** Ratios in a JSON file: saves are debounced and written atomically (temp file + rename), one at a time. */
export class JsonFileRatioStore implements RatioStore {
  private latest: Record<string, RatioState> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly debounceMs = 1000,
  ) {}

  async load(): Promise<Record<string, RatioState>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.path, "utf8"));
      return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, RatioState>) : {};
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
  }

  save(all: Record<string, RatioState>): Promise<void> {
    this.latest = all;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush().catch(() => {});
      }, this.debounceMs);
      this.timer.unref();
    }
    return Promise.resolve();
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const data = this.latest;
    this.latest = undefined;
    if (data) this.writing = this.writing.catch(() => {}).then(() => this.write(data));
    await this.writing;
  }

  private async write(data: Record<string, RatioState>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(data, null, 2)}\n`);
    await rename(temp, this.path);
  }
}
