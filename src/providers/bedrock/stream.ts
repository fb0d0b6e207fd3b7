import type { ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import type { GatewayError } from "../../errors.js";
import { ChunkEnvelope } from "../../openai/chunks.js";
import type { Usage } from "../../openai/schema.js";
import { DONE_FRAME, sseErrorFrame } from "../../openai/sse.js";
import type { RelayStream, StreamOutcome, UpstreamObserver } from "../types.js";
import { type FinishReason, finishReason, usageOf } from "./response.js";

const encoder = new TextEncoder();
type Delta = Record<string, unknown>;

/** Turns ConverseStream events into OpenAI chat.completion.chunk objects, all with one id, created and model. */
export class BedrockStreamTranslator {
  readonly envelope: ChunkEnvelope;
  private native: Usage | undefined;
  /** Bedrock's content block index -> OpenAI's tool-call index (tool blocks counted, text blocks not). */
  private readonly toolIndex = new Map<number, number>();
  private toolCount = 0;

  constructor(id: string, model: string) {
    this.envelope = new ChunkEnvelope(id, model);
  }

  onEvent(e: ConverseStreamOutput): object[] | undefined {
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

/**
 * Relays a ConverseStream answer as OpenAI SSE. The SDK has already decoded AWS's binary event stream into
 * events, so `chunks` translates each event into its SSE frames; an exception event makes the SDK's iterator
 * throw, which the server turns into onError's final error frame.
 */
export class BedrockRelay implements RelayStream {
  readonly chunks: AsyncIterable<Uint8Array>;
  private first = true;
  private ended = false;

  constructor(
    private readonly events: AsyncIterable<ConverseStreamOutput>,
    private readonly translator: BedrockStreamTranslator,
    private readonly observer: UpstreamObserver,
    private readonly includeUsage: boolean,
    private readonly toGatewayError: (err: unknown) => GatewayError,
    private readonly abort: () => void,
    private readonly done: () => void,
  ) {
    this.chunks = this.frames();
  }

  private async *frames(): AsyncGenerator<Uint8Array> {
    for await (const event of this.events) {
      const chunks = this.translator.onEvent(event);
      if (!chunks) continue;
      let out = "";
      for (const chunk of chunks) out += `data: ${JSON.stringify(chunk)}\n\n`;
      yield encoder.encode(out);
    }
  }

  onChunk(chunk: Uint8Array): Uint8Array {
    if (this.first) {
      this.first = false;
      this.observer.onFirstByte();
    }
    return chunk;
  }

  onEnd(): Uint8Array {
    const usage = this.recordUsage();
    this.end("completed");
    if (!usage || !this.includeUsage) return DONE_FRAME;
    return encoder.encode(`data: ${JSON.stringify(this.translator.envelope.usage(usage))}\n\ndata: [DONE]\n\n`);
  }

  onError(err: unknown): Uint8Array {
    const error = this.toGatewayError(err);
    this.recordUsage();
    this.end("upstream_error", error);
    return sseErrorFrame(error);
  }

  cancel(): void {
    this.recordUsage(); // tokens already generated are counted
    this.end("client_abort");
    this.abort(); // closes the upstream connection: Bedrock stops generating (and billing)
  }

  private recordUsage(): Usage | undefined {
    const usage = this.translator.usage();
    if (usage && !this.ended) this.observer.onUsage(usage);
    return usage;
  }

  private end(outcome: StreamOutcome, error?: GatewayError): void {
    if (this.ended) return;
    this.ended = true;
    this.done();
    this.observer.onStreamEnd(outcome, error);
  }
}
