import { createParser, type EventSourceParser } from "eventsource-parser";
import type { ToolCall, Usage } from "../openai/schema.js";
import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChoiceLogprobs,
} from "./entry.js";

/**
 * Delta fields this rebuild keeps (and obfuscation, padding that carries nothing); any other non-null one
 * (audio, function_call, annotations, ...) would be lost, so such an answer is not cached.
 */
const KNOWN_DELTA_FIELDS: ReadonlySet<string> = new Set(["role", "content", "refusal", "tool_calls", "obfuscation"]);

interface ChoiceState {
  content: string | null;
  refusal: string | null;
  toolCalls: ToolCall[];
  finishReason: string | null;
  logprobs: ChoiceLogprobs | null;
}

/**
 * Rebuilds the non-stream chat.completion from a stream's chat.completion.chunk objects, fed one by one: what
 * the cache stores after a streamed miss, so a later request, streamed or not, can be answered from it.
 */
export class StreamAccumulator {
  private id = "";
  private created = 0;
  private model = "";
  private systemFingerprint: string | null | undefined = undefined;
  private serviceTier: string | null | undefined = undefined;
  private readonly choices: ChoiceState[] = [];
  private usage: Usage | undefined = undefined;
  private chunks = 0;
  /** Set when a chunk carried something this rebuild cannot keep, or the stream reported an error. */
  private unfaithful = false;

  add(chunk: ChatCompletionChunk): void {
    if (this.chunks++ === 0) {
      this.id = chunk.id;
      this.created = chunk.created;
      this.model = chunk.model;
    }
    if (chunk.system_fingerprint != null) this.systemFingerprint = chunk.system_fingerprint;
    if (chunk.service_tier != null) this.serviceTier = chunk.service_tier;
    if (chunk.usage != null) this.usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) this.pushChoice(choice);
  }

  /** The stream reported an error (an `event: error` frame, or a chunk with an `error` member): never store it. */
  fail(): void {
    this.unfaithful = true;
  }

  /**
   * True when every choice ended with a finish_reason and nothing was dropped: only then is the rebuilt answer
   * the whole answer (a stream cut by the client or the upstream must never be stored).
   */
  complete(): boolean {
    if (this.unfaithful || this.choices.length === 0) return false;
    for (let i = 0; i < this.choices.length; i++) {
      const choice = this.choices[i];
      if (choice === undefined || choice.finishReason === null) return false;
    }
    return true;
  }

  /** The equivalent chat.completion (call complete() first to know whether it is whole). */
  result(): ChatCompletion {
    const choices: ChatCompletionChoice[] = [];
    this.choices.forEach((state, index) => {
      const message: ChatCompletionChoice["message"] = {
        role: "assistant",
        content: state.content,
        refusal: state.refusal,
      };
      if (state.toolCalls.length > 0) message.tool_calls = state.toolCalls.filter((call) => call !== undefined);
      choices.push({ index, message, finish_reason: state.finishReason, logprobs: state.logprobs });
    });
    const completion: ChatCompletion = {
      id: this.id,
      object: "chat.completion",
      created: this.created,
      model: this.model,
      choices,
    };
    if (this.systemFingerprint !== undefined) completion.system_fingerprint = this.systemFingerprint;
    if (this.serviceTier !== undefined) completion.service_tier = this.serviceTier;
    if (this.usage !== undefined) completion.usage = this.usage;
    return completion;
  }

  private pushChoice(choice: ChatCompletionChunkChoice): void {
    const index = choice.index;
    if (!Number.isInteger(index) || index < 0 || index > 127) {
      this.unfaithful = true;
      return;
    }
    let state = this.choices[index];
    if (state === undefined) {
      state = { content: null, refusal: null, toolCalls: [], finishReason: null, logprobs: null };
      this.choices[index] = state;
    }
    if (choice.finish_reason != null) state.finishReason = choice.finish_reason;
    if (choice.logprobs != null) state.logprobs = mergeLogprobs(state.logprobs, choice.logprobs);
    const delta = choice.delta;
    if (delta == null) return;
    for (const field in delta) {
      if (!KNOWN_DELTA_FIELDS.has(field) && (delta as Record<string, unknown>)[field] != null) this.unfaithful = true;
    }
    if (typeof delta.content === "string") state.content = (state.content ?? "") + delta.content;
    if (typeof delta.refusal === "string") state.refusal = (state.refusal ?? "") + delta.refusal;
    if (delta.tool_calls == null) return;
    for (const part of delta.tool_calls) {
      let call = state.toolCalls[part.index];
      if (call === undefined) {
        call = { id: "", type: "function", function: { name: "", arguments: "" } };
        state.toolCalls[part.index] = call;
      }
      if (part.type != null && part.type !== "function") this.unfaithful = true;
      if (part.id) call.id = part.id;
      if (part.function?.name) call.function.name = part.function.name;
      if (part.function?.arguments) call.function.arguments += part.function.arguments;
    }
  }
}

function mergeLogprobs(into: ChoiceLogprobs | null, more: ChoiceLogprobs): ChoiceLogprobs {
  if (into === null) {
    return { content: more.content ? [...more.content] : null, refusal: more.refusal ? [...more.refusal] : null };
  }
  if (more.content) into.content = [...(into.content ?? []), ...more.content];
  if (more.refusal) into.refusal = [...(into.refusal ?? []), ...more.refusal];
  return into;
}

/** Rebuilds the completion from a whole SSE text; undefined when it was cut, failed or carried what cannot be kept. */
export function completionFromSse(text: string): ChatCompletion | undefined {
  const accumulator = new StreamAccumulator();
  let done = false;
  const parser: EventSourceParser = createParser({
    onEvent(event) {
      if (done) return;
      if (event.event === "error") return accumulator.fail();
      if (event.data === "[DONE]") {
        done = true;
        return;
      }
      let chunk: ChatCompletionChunk & { error?: unknown };
      try {
        chunk = JSON.parse(event.data) as ChatCompletionChunk & { error?: unknown };
      } catch {
        return accumulator.fail();
      }
      if (chunk.error != null) return accumulator.fail();
      accumulator.add(chunk);
    },
  });
  parser.feed(text);
  return done && accumulator.complete() ? accumulator.result() : undefined;
}
