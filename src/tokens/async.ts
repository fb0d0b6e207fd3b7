import type { ChatCompletionRequest } from "../openai/schema.js";
import { countParts, type PromptTokenCount, promptParts } from "./prompt.js";
import type { TokenWorkerPool } from "./worker-pool.js";

// Encoding runs at ~1-1.5 µs per token (~4 chars) on this machine: 16k chars is ~4-6 ms inline, the most we let one
// request hold the event loop. Bigger prompts go to the worker (a 100k-token prompt takes ~100-170 ms).
export const INLINE_CHAR_LIMIT = 16_000;

export interface AsyncCountOptions {
  pool: TokenWorkerPool;
  inlineCharLimit?: number;
}

/**
 * Same result as countPromptTokens(); small prompts are counted inline, big ones in the worker pool. If the
 * worker fails, the count falls back to this thread rather than failing the request.
 */
export async function countPromptTokensAsync(
  request: ChatCompletionRequest,
  model: string,
  options: AsyncCountOptions,
): Promise<PromptTokenCount> {
  const parts = promptParts(request, model);
  if (parts.chars <= (options.inlineCharLimit ?? INLINE_CHAR_LIMIT)) return countParts(parts);
  try {
    const textTokens = await options.pool.count(parts.texts, parts.encoding);
    return { tokens: parts.fixedTokens + textTokens, encoding: parts.encoding, exact: parts.exact };
  } catch {
    return countParts(parts);
  }
}

/** A cheap guess (framing + chars / 4, typical of English; CJK text runs higher) for a pre-check, no encoding. */
export function roughPromptTokens(request: ChatCompletionRequest, model: string = request.model): number {
  const parts = promptParts(request, model);
  return parts.fixedTokens + Math.ceil(parts.chars / 4);
}
