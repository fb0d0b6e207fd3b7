import { z } from "zod";

// Only what the gateway must rely on is checked; every other field passes through untouched so new
// OpenAI parameters keep working without a Tollgate release.

const ContentPart = z.looseObject({ type: z.string() });

const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_call_id: z.string().optional(),
});

const Tool = z.looseObject({
  type: z.string(),
  function: z.looseObject({ name: z.string().min(1) }).optional(),
});

const nullableNumber = (min: number, max: number) => z.number().min(min).max(max).nullable().optional();
const positiveInt = z.number().int().positive().nullable().optional();

export const ChatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  temperature: nullableNumber(0, 2),
  top_p: nullableNumber(0, 1),
  presence_penalty: nullableNumber(-2, 2),
  frequency_penalty: nullableNumber(-2, 2),
  max_tokens: positiveInt,
  max_completion_tokens: positiveInt,
  stop: z.union([z.string(), z.array(z.string()).max(4), z.null()]).optional(),
  tools: z.array(Tool).optional(),
  user: z.string().optional(),
});

export const EmbeddingsRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int())).min(1),
  ]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequestSchema>;
export type ChatMessage = z.infer<typeof Message>;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  /** USD, added by the gateway (the field OpenRouter uses). */
  cost?: number;
}

/** A tool call in an assistant message (what translating providers produce from native tool use). */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/**
 * OpenAI's usage from the counts native APIs report apart: OpenAI's prompt_tokens include cache reads and
 * writes, with the reads also given as cached_tokens.
 */
export function usageFrom(counts: { input: number; cacheRead: number; cacheWrite: number; output: number }): Usage {
  const prompt = counts.input + counts.cacheRead + counts.cacheWrite;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: counts.output,
    total_tokens: prompt + counts.output,
    prompt_tokens_details: { cached_tokens: counts.cacheRead },
  };
  if (counts.cacheWrite > 0) cacheWrites.set(usage, counts.cacheWrite);
  return usage;
}

// Cache-write tokens (billed above input by Anthropic and Bedrock) have no field in OpenAI's usage: kept beside
// it for pricing, never shown to the client.
const cacheWrites = new WeakMap<Usage, number>();

/** The cache-write tokens inside `usage.prompt_tokens`, when a provider reported them. */
export function cacheWriteTokens(usage: Usage): number {
  return cacheWrites.get(usage) ?? 0;
}
