import type { ConverseCommandOutput, TokenUsage } from "@aws-sdk/client-bedrock-runtime";
import { type ToolCall, type Usage, usageFrom } from "../../openai/schema.js";

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

const FINISH: Record<string, FinishReason> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  guardrail_intervened: "content_filter",
  content_filtered: "content_filter",
};

export function finishReason(stop: string | undefined): FinishReason {
  return (stop && FINISH[stop]) || "stop";
}

/** Bedrock's inputTokens exclude cache reads; OpenAI's prompt_tokens include them, with cached_tokens apart. */
export function usageOf(u: TokenUsage | undefined): Usage {
  return usageFrom({
    input: u?.inputTokens ?? 0,
    cacheRead: u?.cacheReadInputTokens ?? 0,
    cacheWrite: u?.cacheWriteInputTokens ?? 0,
    output: u?.outputTokens ?? 0,
  });
}

/** A chat.completion object for a Converse answer. */
export function toChatCompletion(out: ConverseCommandOutput, id: string, model: string, created: number) {
  let text: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const block of out.output?.message?.content ?? []) {
    if (block.text !== undefined) text = (text ?? "") + block.text;
    else if (block.toolUse) {
      toolCalls.push({
        id: block.toolUse.toolUseId ?? "",
        type: "function",
        function: { name: block.toolUse.name ?? "", arguments: JSON.stringify(block.toolUse.input ?? {}) },
      });
    }
    // reasoning, citations and other blocks have no OpenAI counterpart: left out.
  }
  const message: Record<string, unknown> = { role: "assistant", content: text, refusal: null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  const usage = usageOf(out.usage);
  return {
    completion: {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(out.stopReason) }],
      usage,
    },
    usage,
  };
}

/** OpenAI-style id carrying the AWS request id, for tracing a call in CloudTrail. */
export function chatId(requestId: string | undefined, fallback: string): string {
  return `chatcmpl-${requestId ?? fallback}`;
}
