import type { ChatCompletionRequest } from "../openai/schema.js";
import { countPromptTokensAsync, INLINE_CHAR_LIMIT } from "./async.js";
import { type ProviderType, TokenCalibrator } from "./calibration.js";
import type { EncodingName } from "./encoding.js";
import type { PromptTokenCount } from "./prompt.js";
import { TokenWorkerPool } from "./worker-pool.js";

export interface PromptEstimate {
  /** What the provider is expected to bill: the tiktoken count, times the learned ratio off OpenAI. */
  tokens: number;
  /** The tiktoken count: what to pass back to observePrompt() with the provider's reported prompt_tokens. */
  tiktokenTokens: number;
  encoding: EncodingName;
  exact: boolean;
}

const OPENAI_TOKENIZER: ReadonlySet<ProviderType> = new Set(["openai", "azure"]);

/** What the predict stage needs in one object: async counting with the worker pool, and calibration. */
export class PromptTokenEstimator {
  readonly pool: TokenWorkerPool;
  readonly calibrator: TokenCalibrator;
  private readonly inlineCharLimit: number;
  /**
   * The count of a request object already counted. The server hands every repeat of the same body the same
   * (frozen) object, so a repeated request (an exact cache hit) is not walked and looked up again.
   */
  private readonly counted = new WeakMap<ChatCompletionRequest, { model: string; count: PromptTokenCount }>();

  constructor(options: { pool?: TokenWorkerPool; calibrator?: TokenCalibrator; inlineCharLimit?: number } = {}) {
    this.pool = options.pool ?? new TokenWorkerPool();
    this.calibrator = options.calibrator ?? new TokenCalibrator();
    this.inlineCharLimit = options.inlineCharLimit ?? INLINE_CHAR_LIMIT;
  }

  /** `model` is the upstream model; OpenAI and Azure bill the tiktoken count itself. */
  async estimate(request: ChatCompletionRequest, provider: ProviderType, model: string): Promise<PromptEstimate> {
    const known = this.counted.get(request);
    const count = known?.model === model ? known.count : await this.count(request, model);
    const tokens = OPENAI_TOKENIZER.has(provider)
      ? count.tokens
      : this.calibrator.estimate(provider, model, count.tokens);
    return {
      tokens,
      tiktokenTokens: count.tokens,
      encoding: count.encoding,
      exact: count.exact && OPENAI_TOKENIZER.has(provider),
    };
  }

  private async count(request: ChatCompletionRequest, model: string): Promise<PromptTokenCount> {
    const count = await countPromptTokensAsync(request, model, {
      pool: this.pool,
      inlineCharLimit: this.inlineCharLimit,
    });
    this.counted.set(request, { model, count });
    return count;
  }

  /** A tiktoken count as `provider` is expected to bill it. */
  calibrated(provider: ProviderType, model: string, tiktokenTokens: number): number {
    return OPENAI_TOKENIZER.has(provider) ? tiktokenTokens : this.calibrator.estimate(provider, model, tiktokenTokens);
  }

  observe(provider: ProviderType, model: string, tiktokenTokens: number, reportedPromptTokens: number): void {
    if (!OPENAI_TOKENIZER.has(provider)) this.calibrator.observe(provider, model, tiktokenTokens, reportedPromptTokens);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.calibrator.flush()]);
  }
}
