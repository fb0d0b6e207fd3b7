import type { ChatCompletionRequest, Usage } from "../openai/schema.js";
import { cacheWriteTokens } from "../openai/schema.js";
import type { PriceQuote, Pricing, TokenCounts } from "../pricing/index.js";
import type { AccuracyTracker, CompletionPredictor, PromptTokenEstimator, ProviderType } from "../tokens/index.js";

/** What a deployment is to the cost engine (routing's Deployment satisfies it). */
export interface PricedDeployment {
  readonly id: string;
  readonly upstreamModel: string;
  readonly region: string | undefined;
  readonly provider: { readonly type: string };
}

/** One deployment's prediction: what the call is expected to cost, and the most it can cost. */
export interface DeploymentEstimate {
  deploymentId: string;
  promptTokens: number;
  /** USD with the expected completion; undefined when the model's price is unknown. */
  costUsd: number | undefined;
  /** USD with the completion's upper bound (max_tokens, else a high quantile of history). */
  upperCostUsd: number | undefined;
}

export interface Prediction {
  /** The tiktoken count the per-provider estimates were calibrated from. */
  tiktokenTokens: number;
  completionTokens: number;
  completionUpper: number;
  /** One per deployment the alias may route to, in the alias's order. */
  deployments: DeploymentEstimate[];
}

/**
 * Prices calls before and after: prompt tokens counted (js-tiktoken, calibrated per provider), completion
 * tokens predicted from history, both priced per deployment; after the call, the usage priced and the
 * prediction's error learned from. The pipeline's predict and usage stages are thin wrappers over it.
 */
export class CostEngine {
  constructor(
    readonly pricing: Pricing,
    readonly estimator: PromptTokenEstimator,
    readonly predictor: CompletionPredictor,
    readonly accuracy: AccuracyTracker,
  ) {}

  async predict(
    request: ChatCompletionRequest,
    alias: string,
    keyId: string | undefined,
    deployments: readonly PricedDeployment[],
  ): Promise<Prediction> {
    const first = deployments[0] as PricedDeployment;
    const prompt = await this.estimator.estimate(request, first.provider.type as ProviderType, first.upstreamModel);
    const maxTokens = request.max_completion_tokens ?? request.max_tokens;
    const completion = this.predictor.predict(alias, keyId, maxTokens);
    const choices = request.n ?? 1; // every choice is billed its own completion
    const expected = completion.expected * choices;
    const upper = completion.upper * choices;
    const out: DeploymentEstimate[] = [];
    for (const d of deployments) {
      const type = d.provider.type as ProviderType;
      const promptTokens =
        d === first ? prompt.tokens : this.estimator.calibrated(type, d.upstreamModel, prompt.tiktokenTokens);
      out.push({
        deploymentId: d.id,
        promptTokens,
        costUsd: this.quote(d, { input: promptTokens, cacheRead: 0, cacheWrite: 0, output: expected })?.costUsd,
        upperCostUsd: this.quote(d, { input: promptTokens, cacheRead: 0, cacheWrite: 0, output: upper })?.costUsd,
      });
    }
    return {
      tiktokenTokens: prompt.tiktokenTokens,
      completionTokens: expected,
      completionUpper: upper,
      deployments: out,
    };
  }

  /** The actual cost of a usage on a deployment; undefined when its price is unknown. */
  costOf(d: PricedDeployment, usage: Usage): number | undefined {
    return this.quote(d, countsOf(usage))?.costUsd;
  }

  quote(d: PricedDeployment, counts: TokenCounts): PriceQuote | undefined {
    return this.pricing.quote(d.provider.type, d.upstreamModel, counts, { deployment: d.id, region: d.region });
  }

  /** Learns from a finished call: the provider's token ratio, the alias's completions, and the error made. */
  learn(
    d: PricedDeployment,
    alias: string,
    keyId: string | undefined,
    prediction: Prediction | undefined,
    usage: Usage,
    actualCostUsd: number | undefined,
  ): void {
    this.predictor.observe(alias, keyId, usage.completion_tokens);
    if (prediction === undefined) return;
    const type = d.provider.type as ProviderType;
    this.estimator.observe(type, d.upstreamModel, prediction.tiktokenTokens, usage.prompt_tokens);
    const mine = prediction.deployments.find((e) => e.deploymentId === d.id);
    if (mine === undefined) return;
    this.accuracy.record(d.upstreamModel, "prompt_tokens", mine.promptTokens, usage.prompt_tokens);
    if (actualCostUsd !== undefined && mine.costUsd !== undefined && actualCostUsd > 0) {
      this.accuracy.record(d.upstreamModel, "cost", mine.costUsd, actualCostUsd);
    }
  }
}

/** OpenAI's usage as the price database counts it: input without the cached reads and writes. */
export function countsOf(usage: Usage): TokenCounts {
  const cacheRead = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const cacheWrite = cacheWriteTokens(usage);
  return {
    input: Math.max(0, usage.prompt_tokens - cacheRead - cacheWrite),
    cacheRead,
    cacheWrite,
    output: usage.completion_tokens ?? 0,
  };
}
