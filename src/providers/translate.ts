import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import { GatewayError } from "../errors.js";
import type { ChunkEnvelope } from "../openai/chunks.js";
import type { Usage } from "../openai/schema.js";
import { DONE_FRAME, sseErrorFrame } from "../openai/sse.js";
import type { RelayStream, StreamOutcome, UpstreamObserver } from "./types.js";

/** A provider's native stream, one SSE event at a time, turned into OpenAI chat.completion.chunk objects. */
export interface StreamTranslator {
  /** The OpenAI chunks (objects, serialised by the relay) for one native event; none is fine. Throw a GatewayError for a native error event. */
  onEvent(event: EventSourceMessage): object[] | undefined;
  /** The usage reported so far, if any: recorded always, sent as the last chunk only when the client asked. */
  usage(): Usage | undefined;
  /** The id, created and model the translator's chunks carry: the usage chunk shares them. */
  readonly envelope: ChunkEnvelope;
}

type UpstreamBody = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };
const encoder = new TextEncoder();

/**
 * Relays a native SSE stream as OpenAI's: each upstream chunk is parsed into events, each event translated,
 * and the resulting chunks sent as they come; `data: [DONE]` closes it. Shared by every translating provider.
 */
export class TranslatingRelay implements RelayStream {
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private out = "";
  private failure: GatewayError | undefined;
  private first = true;
  private ended = false;

  constructor(
    readonly chunks: UpstreamBody,
    private readonly translator: StreamTranslator,
    private readonly observer: UpstreamObserver,
    private readonly includeUsage: boolean,
    private readonly toGatewayError: (err: unknown) => GatewayError,
  ) {
    this.parser = createParser({ onEvent: (event) => this.translate(event) });
  }

  onChunk(chunk: Uint8Array): Uint8Array | undefined {
    if (this.first) {
      this.first = false;
      this.observer.onFirstByte();
    }
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    if (this.failure) throw this.failure; // becomes the final error frame through onError
    if (this.out === "") return undefined;
    const bytes = encoder.encode(this.out);
    this.out = "";
    return bytes;
  }

  onEnd(): Uint8Array {
    const usage = this.translator.usage();
    if (usage) this.observer.onUsage(usage);
    let tail = this.out;
    this.out = "";
    if (usage && this.includeUsage) tail += `data: ${JSON.stringify(this.translator.envelope.usage(usage))}\n\n`;
    this.end("completed");
    return tail === "" ? DONE_FRAME : encoder.encode(`${tail}data: [DONE]\n\n`);
  }

  onError(err: unknown): Uint8Array {
    const error = this.failure ?? this.asGatewayError(err);
    const usage = this.translator.usage();
    if (usage) this.observer.onUsage(usage);
    this.end("upstream_error", error);
    // Chunks translated from the same read as the failure still go out, before the error frame.
    const pending = this.out;
    this.out = "";
    const frame = sseErrorFrame(error);
    if (pending === "") return frame;
    const head = encoder.encode(pending);
    const all = new Uint8Array(head.length + frame.length);
    all.set(head);
    all.set(frame, head.length);
    return all;
  }

  cancel(): void {
    const usage = this.translator.usage();
    if (usage) this.observer.onUsage(usage); // tokens already generated are counted
    this.end("client_abort");
    this.chunks.destroy();
  }

  private translate(event: EventSourceMessage): void {
    if (this.failure) return;
    try {
      const chunks = this.translator.onEvent(event);
      if (chunks) for (const chunk of chunks) this.out += `data: ${JSON.stringify(chunk)}\n\n`;
    } catch (err) {
      this.failure = this.asGatewayError(err);
    }
  }

  private asGatewayError(err: unknown): GatewayError {
    return err instanceof GatewayError ? err : this.toGatewayError(err);
  }

  private end(outcome: StreamOutcome, error?: GatewayError): void {
    if (this.ended) return;
    this.ended = true;
    this.observer.onStreamEnd(outcome, error);
  }
}
