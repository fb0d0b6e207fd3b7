import type { EventSourceMessage } from "eventsource-parser";
import { ChunkEnvelope } from "../../openai/chunks.js";
import type { Usage } from "../../openai/schema.js";
import type { StreamTranslator } from "../translate.js";
import { geminiError } from "./errors.js";
import type { GeminiResponse } from "./native.js";
import { finishReason, textOfParts, throwIfBlocked, toolCallsOf, toUsage } from "./response.js";

/**
 * Gemini's streamGenerateContent (alt=sse) events as OpenAI chunks. Each event is a whole GenerateContentResponse
 * holding the next piece of text; a function call comes whole in one event, so it is sent as one tool_calls
 * delta with its id, name and full arguments. usageMetadata is a running total: the last one counts.
 */
export class GeminiStreamTranslator implements StreamTranslator {
  readonly envelope: ChunkEnvelope;
  private started = false;
  private last: Usage | undefined;
  private calls = 0;
  /** Per choice index: tool calls sent so far (for their delta index); present once the role chunk went out. */
  private readonly choices = new Map<number, { toolCalls: number }>();

  constructor(
    private readonly provider: string,
    model: string,
    private readonly fallbackId: string,
  ) {
    this.envelope = new ChunkEnvelope(`chatcmpl-${fallbackId}`, model);
  }

  onEvent(event: EventSourceMessage): object[] | undefined {
    if (event.data === "" || event.data === "[DONE]") return undefined;
    const res = JSON.parse(event.data) as GeminiResponse;
    if (res.error) throw geminiError(this.provider, res.error.code ?? 500, res.error);
    if (res.usageMetadata) this.last = toUsage(res.usageMetadata);
    if (!this.started) {
      this.started = true;
      throwIfBlocked(this.provider, res); // only the first event can refuse the prompt outright
      this.envelope.id = `chatcmpl-${res.responseId ?? this.fallbackId}`;
    }
    const out: object[] = [];
    (res.candidates ?? []).forEach((candidate, i) => {
      const index = candidate.index ?? i;
      let choice = this.choices.get(index);
      if (!choice) {
        choice = { toolCalls: 0 };
        this.choices.set(index, choice);
        out.push(this.chunk(index, { role: "assistant", content: "" }, null));
      }
      const parts = candidate.content?.parts;
      const text = textOfParts(parts);
      if (text !== "") out.push(this.chunk(index, { content: text }, null));
      const calls = toolCallsOf(parts, () => this.calls++);
      if (calls.length > 0) {
        const start = choice.toolCalls;
        choice.toolCalls += calls.length;
        const deltas = calls.map((call, j) => ({ index: start + j, ...call }));
        out.push(this.chunk(index, { tool_calls: deltas }, null));
      }
      if (candidate.finishReason) {
        out.push(this.chunk(index, {}, finishReason(candidate.finishReason, choice.toolCalls > 0)));
      }
    });
    return out;
  }

  usage(): Usage | undefined {
    return this.last;
  }

  private chunk(index: number, delta: object, finish: string | null): object {
    return this.envelope.choice(delta, finish, index);
  }
}
