import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import { GatewayError } from "../errors.js";
import type { ChunkEnvelope } from "../openai/chunks.js";
import type { Usage } from "../openai/schema.js";
import { DONE_FRAME, sseErrorFrame } from "../openai/sse.js";
import type { RelayStream, StreamOutcome, UpstreamObserver } from "./types.js";

/** A provider's native stream, one event at a time, turned into OpenAI chat.completion.chunk objects. */
export interface StreamTranslator<E = EventSourceMessage> {
  /** The OpenAI chunks (objects, serialised by the relay) for one native event; none is fine. Throw a GatewayError for a native error event. */
  onEvent(event: E): object[] | undefined;
  /** The usage reported so far, if any: recorded always, sent as the last chunk only when the client asked. */
  usage(): Usage | undefined;
  /** The id, created and model the translator's chunks carry: the usage chunk shares them. */
  readonly envelope: ChunkEnvelope;
}

/** Cuts a native byte stream into events: SSE for most providers, AWS's binary event stream for Bedrock. */
export interface NativeEventReader<E> {
  /** Calls onEvent for every event the bytes complete; throws when the bytes cannot be read. */
  feed(chunk: Uint8Array, onEvent: (event: E) => void): void;
}

/** Server-sent events, parsed by eventsource-parser. */
export class SseReader implements NativeEventReader<EventSourceMessage> {
  private readonly decoder = new TextDecoder();
  private readonly parser: EventSourceParser;
  private emit: (event: EventSourceMessage) => void = () => {};

  constructor() {
    this.parser = createParser({ onEvent: (event) => this.emit(event) });
  }

  feed(chunk: Uint8Array, onEvent: (event: EventSourceMessage) => void): void {
    this.emit = onEvent;
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
  }
}

type UpstreamBody = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };
const encoder = new TextEncoder();

/**
 * Relays a native stream as OpenAI's SSE: each upstream chunk is read into events, each event translated,
 * and the resulting chunks sent as they come; `data: [DONE]` closes it. Shared by every translating provider.
 */
export class TranslatingRelay<E = EventSourceMessage> implements RelayStream {
  private readonly onEvent = (event: E) => this.translate(event);
  private out = "";
  /** OpenAI chunks produced so far: roughly the tokens generated, for a stream cut before its usage. */
  private produced = 0;
  private failure: GatewayError | undefined;
  private first = true;
  private ended = false;

  constructor(
    readonly chunks: UpstreamBody,
    private readonly reader: NativeEventReader<E>,
    private readonly translator: StreamTranslator<E>,
    private readonly observer: UpstreamObserver,
    private readonly includeUsage: boolean,
    private readonly toGatewayError: (err: unknown) => GatewayError,
  ) {}

  onChunk(chunk: Uint8Array): Uint8Array | undefined {
    if (this.first) {
      this.first = false;
      this.observer.onFirstByte();
    }
    if (this.failure === undefined) {
      try {
        this.reader.feed(chunk, this.onEvent);
      } catch (err) {
        this.failure = this.asGatewayError(err);
      }
    }
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
    if (usage && this.includeUsage) {
      const chunk = this.translator.envelope.usage(usage, this.observer.costOf(usage));
      tail += `data: ${JSON.stringify(chunk)}\n\n`;
    }
    this.end("completed");
    return tail === "" ? DONE_FRAME : encoder.encode(`${tail}data: [DONE]\n\n`);
  }

  onError(err: unknown): Uint8Array {
    const error = this.failure ?? this.asGatewayError(err);
    const usage = this.translator.usage();
    if (usage) this.observer.onUsage(usage);
    this.observer.onPartialOutput(this.produced);
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
    this.observer.onPartialOutput(this.produced);
    this.end("client_abort");
    this.chunks.destroy();
  }

  private translate(event: E): void {
    if (this.failure) return;
    try {
      const chunks = this.translator.onEvent(event);
      if (chunks) {
        this.produced += chunks.length;
        for (const chunk of chunks) this.out += `data: ${JSON.stringify(chunk)}\n\n`;
      }
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
