import { ChunkEnvelope } from "../../openai/chunks.js";
import type { Usage } from "../../openai/schema.js";
import type { StreamTranslator } from "../translate.js";
import { bedrockError } from "./errors.js";
import type { BedrockEvent } from "./eventstream.js";
import { type FinishReason, finishReason, usageOf } from "./response.js";

type Delta = Record<string, unknown>;

/** Turns ConverseStream events into OpenAI chat.completion.chunk objects, all with one id, created and model. */
export class BedrockStreamTranslator implements StreamTranslator<BedrockEvent> {
  readonly envelope: ChunkEnvelope;
  private native: Usage | undefined;
  /** Bedrock's content block index -> OpenAI's tool-call index (tool blocks counted, text blocks not). */
  private readonly toolIndex = new Map<number, number>();
  private toolCount = 0;

  constructor(
    private readonly provider: string,
    id: string,
    model: string,
  ) {
    this.envelope = new ChunkEnvelope(id, model);
  }

  onEvent(e: BedrockEvent): object[] | undefined {
    if (e.exception) {
      throw bedrockError(this.provider, e.exception); // becomes the stream's final error frame
    }
    if (e.messageStart) return [this.chunk({ role: "assistant", content: "" })];
    if (e.contentBlockStart) {
      const use = e.contentBlockStart.start?.toolUse;
      if (!use) return undefined;
      const index = this.toolCount++;
      this.toolIndex.set(e.contentBlockStart.contentBlockIndex ?? -1, index);
      const call = { index, id: use.toolUseId, type: "function", function: { name: use.name, arguments: "" } };
      return [this.chunk({ tool_calls: [call] })];
    }
    if (e.contentBlockDelta) {
      const d = e.contentBlockDelta.delta;
      if (d?.text) return [this.chunk({ content: d.text })];
      const args = d?.toolUse?.input;
      const index = this.toolIndex.get(e.contentBlockDelta.contentBlockIndex ?? -1);
      if (args && index !== undefined) return [this.chunk({ tool_calls: [{ index, function: { arguments: args } }] })];
      return undefined; // reasoning and citation deltas have no OpenAI counterpart
    }
    if (e.messageStop) return [this.chunk({}, finishReason(e.messageStop.stopReason))];
    if (e.metadata) this.native = usageOf(e.metadata.usage);
    return undefined; // contentBlockStop, unknown future events
  }

  usage(): Usage | undefined {
    return this.native;
  }

  private chunk(delta: Delta, finish: FinishReason | null = null): object {
    return this.envelope.choice(delta, finish);
  }
}
