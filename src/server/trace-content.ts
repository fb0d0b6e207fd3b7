import type { ChatCompletionRequest, ChatMessage } from "../openai/schema.js";

// Prompts and answers in the GenAI conventions' message format (gen-ai-input-messages.json,
// gen-ai-output-messages.json): role plus typed parts. Only written when tracing.capture_content is on.

type Part = Record<string, unknown>;

interface OutputChoice {
  finish_reason?: string | null;
  message?: { role?: string; content?: unknown; tool_calls?: unknown };
}

/** What the spans read from an OpenAI chat completion answer. */
export interface AnswerFacts {
  id?: string;
  model?: string;
  finishReasons: string[];
  choices: OutputChoice[];
}

/** The facts of a JSON chat answer; undefined when it is not one. */
export function answerFacts(body: string | Uint8Array): AnswerFacts | undefined {
  try {
    const text =
      typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString();
    const parsed = JSON.parse(text) as { id?: unknown; model?: unknown; choices?: unknown };
    const choices = Array.isArray(parsed.choices) ? (parsed.choices as OutputChoice[]) : [];
    return {
      ...(typeof parsed.id === "string" ? { id: parsed.id } : {}),
      ...(typeof parsed.model === "string" ? { model: parsed.model } : {}),
      finishReasons: choices.map((c) => c.finish_reason ?? "").filter((r) => r !== ""),
      choices,
    };
  } catch {
    return undefined;
  }
}

/** gen_ai.input.messages as a JSON string. */
export function inputMessages(request: ChatCompletionRequest): string {
  return JSON.stringify(request.messages.map(toInputMessage));
}

/** gen_ai.output.messages as a JSON string. */
export function outputMessages(facts: AnswerFacts): string {
  return JSON.stringify(
    facts.choices.map((c) => ({
      role: c.message?.role ?? "assistant",
      parts: [...contentParts(c.message?.content), ...toolCallParts(c.message?.tool_calls)],
      finish_reason: c.finish_reason ?? "",
    })),
  );
}

function toInputMessage(m: ChatMessage): { role: string; parts: Part[] } {
  if (m.role === "tool") {
    return { role: "tool", parts: [{ type: "tool_call_response", id: m.tool_call_id ?? "", response: m.content }] };
  }
  return { role: m.role, parts: [...contentParts(m.content), ...toolCallParts(m.tool_calls)] };
}

function contentParts(content: unknown): Part[] {
  if (typeof content === "string") return [{ type: "text", content }];
  if (!Array.isArray(content)) return [];
  return content.map((p: { type?: string; text?: unknown; image_url?: { url?: unknown } }) => {
    if (p.type === "text") return { type: "text", content: p.text };
    if (p.type === "image_url") return { type: "uri", modality: "image", uri: p.image_url?.url };
    return { type: p.type ?? "unknown" };
  });
}

function toolCallParts(calls: unknown): Part[] {
  if (!Array.isArray(calls)) return [];
  return calls.map((c: { id?: string; function?: { name?: string; arguments?: string } }) => ({
    type: "tool_call",
    id: c.id ?? "",
    name: c.function?.name ?? "",
    arguments: c.function?.arguments ?? "",
  }));
}
