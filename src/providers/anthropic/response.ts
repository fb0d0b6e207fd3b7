import { type ToolCall, type Usage, usageFrom } from "../../openai/schema.js";

// The Messages API answer, as much of it as Tollgate reads.
export interface NativeUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export interface NativeMessageAnswer {
  id: string;
  model: string;
  content: (
    | { type: "text"; text: string }
    | { type: "tool_use"; id: string; name: string; input: unknown }
    | {
        type: string;
      }
  )[];
  stop_reason: string | null;
  usage: NativeUsage;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

const FINISH: Record<string, FinishReason> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

export function finishReason(stop: string | null | undefined): FinishReason {
  return (stop && FINISH[stop]) || "stop";
}

/** OpenAI counts cached and cache-written input in prompt_tokens; Anthropic reports them apart. */
export function usageOf(u: NativeUsage): Usage {
  return usageFrom({
    input: u.input_tokens ?? 0,
    cacheRead: u.cache_read_input_tokens ?? 0,
    cacheWrite: u.cache_creation_input_tokens ?? 0,
    output: u.output_tokens ?? 0,
  });
}

/** A chat.completion object for a Messages API answer. */
export function toChatCompletion(answer: NativeMessageAnswer, created: number) {
  let text: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const block of answer.content) {
    if (block.type === "text") text = (text ?? "") + (block as { text: string }).text;
    else if (block.type === "tool_use") {
      const use = block as { id: string; name: string; input: unknown };
      toolCalls.push({
        id: use.id,
        type: "function",
        function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) },
      });
    }
    // thinking and server-tool blocks have no OpenAI counterpart: left out.
  }
  const message: Record<string, unknown> = { role: "assistant", content: text, refusal: null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  const usage = usageOf(answer.usage ?? {});
  return {
    completion: {
      id: chatId(answer.id),
      object: "chat.completion",
      created,
      model: answer.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(answer.stop_reason) }],
      usage,
    },
    usage,
  };
}

/** OpenAI-style id that still carries Anthropic's message id, for tracing a call in Anthropic's console. */
export function chatId(messageId: string | undefined): string {
  return `chatcmpl-${messageId ?? "anthropic"}`;
}
