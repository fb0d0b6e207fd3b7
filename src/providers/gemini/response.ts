import type { ToolCall, Usage } from "../../openai/schema.js";
import { blockedPrompt } from "./errors.js";
import type { GeminiCandidate, GeminiPart, GeminiResponse, GeminiUsage } from "./native.js";

const FINISH_REASONS: Record<string, string> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter",
};

/** OpenAI's finish_reason for Gemini's; a function call wins, as OpenAI reports "tool_calls" then. */
export function finishReason(native: string | undefined, hasToolCalls: boolean): string {
  if (hasToolCalls) return "tool_calls";
  return (native && FINISH_REASONS[native]) ?? "stop";
}

export function toUsage(u: GeminiUsage): Usage {
  const prompt = u.promptTokenCount ?? 0;
  const thoughts = u.thoughtsTokenCount ?? 0;
  // Thinking tokens are billed as output: OpenAI counts reasoning inside completion_tokens.
  const completion = (u.candidatesTokenCount ?? 0) + thoughts;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.totalTokenCount ?? prompt + completion,
  };
  if (u.cachedContentTokenCount !== undefined) {
    usage.prompt_tokens_details = { cached_tokens: u.cachedContentTokenCount };
  }
  if (u.thoughtsTokenCount !== undefined) usage.completion_tokens_details = { reasoning_tokens: thoughts };
  return usage;
}

/** The answer's text, thought summaries left out (they are reasoning, not the reply). */
export function textOfParts(parts: GeminiPart[] | undefined): string {
  let text = "";
  for (const part of parts ?? []) if (typeof part.text === "string" && part.thought !== true) text += part.text;
  return text;
}

/** Gemini gives function calls no id: `call_<n>`, numbered in answer order, is stable for stream and JSON alike. */
export function toolCallsOf(parts: GeminiPart[] | undefined, next: () => number): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const part of parts ?? []) {
    if (!part.functionCall) continue;
    calls.push({
      id: `call_${next()}`,
      type: "function",
      function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
    });
  }
  return calls;
}

/** Refuses a prompt Gemini blocked outright: there is no answer to translate. */
export function throwIfBlocked(provider: string, res: GeminiResponse): void {
  if (res.candidates?.length) return;
  const reason = res.promptFeedback?.blockReason;
  if (reason) throw blockedPrompt(provider, reason, res.promptFeedback?.blockReasonMessage);
}

export interface Completion {
  json: string;
  usage: Usage | undefined;
}

/** Gemini's generateContent answer as OpenAI's chat.completion JSON. */
export function toCompletion(provider: string, res: GeminiResponse, fallbackId: string, model: string): Completion {
  throwIfBlocked(provider, res);
  let n = 0;
  const next = () => n++;
  const choices = (res.candidates ?? []).map((candidate: GeminiCandidate, i) => {
    const parts = candidate.content?.parts;
    const text = textOfParts(parts);
    const toolCalls = toolCallsOf(parts, next);
    const message: Record<string, unknown> = {
      role: "assistant",
      content: text !== "" || toolCalls.length === 0 ? text : null,
      refusal: null,
    };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    return {
      index: candidate.index ?? i,
      message,
      logprobs: null,
      finish_reason: finishReason(candidate.finishReason, toolCalls.length > 0),
    };
  });
  const usage = res.usageMetadata ? toUsage(res.usageMetadata) : undefined;
  const completion = {
    id: `chatcmpl-${res.responseId ?? fallbackId}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
  return { json: JSON.stringify(completion), usage };
}
