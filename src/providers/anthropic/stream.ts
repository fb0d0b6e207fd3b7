import type { EventSourceMessage } from "eventsource-parser";
import { ChunkEnvelope } from "../../openai/chunks.js";
import type { Usage } from "../../openai/schema.js";
import type { StreamTranslator } from "../translate.js";
import { anthropicStreamError, badAnswer } from "./errors.js";
import { chatId, type FinishReason, finishReason, type NativeUsage, usageOf } from "./response.js";

// The Messages API stream (https://docs.anthropic.com/en/api/messages-streaming), event by event.
interface StreamEvent {
  type?: string;
  index?: number;
  message?: { id?: string; model?: string; usage?: NativeUsage };
  content_block?: { type?: string; id?: string; name?: string; text?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: NativeUsage;
}

type Delta = Record<string, unknown>;

/** Turns Anthropic's SSE events into OpenAI chat.completion.chunk objects with one id, created and model. */
export class AnthropicStreamTranslator implements StreamTranslator {
  readonly envelope: ChunkEnvelope;
  private native: NativeUsage | undefined;
  /** Anthropic's block index -> OpenAI's tool-call index (tool_use blocks counted, text blocks not). */
  private readonly toolIndex = new Map<number, number>();
  private toolCount = 0;

  constructor(
    private readonly provider: string,
    upstreamModel: string,
  ) {
    this.envelope = new ChunkEnvelope(chatId(undefined), upstreamModel);
  }

  onEvent(event: EventSourceMessage): object[] | undefined {
    if (event.event === "ping") return undefined;
    if (event.event === "error") throw anthropicStreamError(this.provider, event.data);
    let e: StreamEvent;
    try {
      e = JSON.parse(event.data) as StreamEvent;
    } catch {
      throw badAnswer(this.provider, `unreadable stream event: ${event.data.slice(0, 200)}`);
    }
    switch (e.type ?? event.event) {
      case "message_start": {
        const m = e.message ?? {};
        if (m.id) this.envelope.id = chatId(m.id);
        if (m.model) this.envelope.model = m.model;
        this.native = { ...m.usage };
        return [this.chunk({ role: "assistant", content: "" })];
      }
      case "content_block_start":
        return this.blockStart(e);
      case "content_block_delta":
        return this.blockDelta(e);
      case "message_delta": {
        // message_delta's usage is cumulative: it replaces, field by field, what message_start said.
        if (e.usage) this.native = { ...this.native, ...definedOf(e.usage) };
        const stop = e.delta?.stop_reason;
        return stop === undefined ? undefined : [this.chunk({}, finishReason(stop))];
      }
      default:
        return undefined; // content_block_stop, message_stop, unknown future events
    }
  }

  usage(): Usage | undefined {
    return this.native ? usageOf(this.native) : undefined;
  }

  private blockStart(e: StreamEvent): object[] | undefined {
    const block = e.content_block;
    if (block?.type === "text") return block.text ? [this.chunk({ content: block.text })] : undefined;
    if (block?.type !== "tool_use") return undefined;
    const index = this.toolCount++;
    this.toolIndex.set(e.index ?? -1, index);
    const call = { index, id: block.id, type: "function", function: { name: block.name, arguments: "" } };
    return [this.chunk({ tool_calls: [call] })];
  }

  private blockDelta(e: StreamEvent): object[] | undefined {
    const d = e.delta;
    if (d?.type === "text_delta") return d.text ? [this.chunk({ content: d.text })] : undefined;
    if (d?.type === "input_json_delta") {
      const index = this.toolIndex.get(e.index ?? -1);
      if (index === undefined || !d.partial_json) return undefined;
      return [this.chunk({ tool_calls: [{ index, function: { arguments: d.partial_json } }] })];
    }
    return undefined; // thinking and signature deltas have no OpenAI counterpart
  }

  private chunk(delta: Delta, finish: FinishReason | null = null): object {
    return this.envelope.choice(delta, finish);
  }
}

function definedOf(u: NativeUsage): NativeUsage {
  const out: NativeUsage = {};
  for (const [k, v] of Object.entries(u)) if (v != null) out[k as keyof NativeUsage] = v;
  return out;
}
