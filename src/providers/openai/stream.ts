import { createParser } from "eventsource-parser";
import type { GatewayError } from "../../errors.js";
import type { Usage } from "../../openai/schema.js";
import { sseErrorFrame } from "../../openai/sse.js";
import type { RelayStream, StreamOutcome, UpstreamObserver } from "../types.js";
import { UsageScanner } from "./usage-scan.js";

type UpstreamBody = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };

const MARK = Buffer.from('"usage":{');
const EVENT_END = Buffer.from("\n\n");
const USAGE_ONLY = Buffer.from('"choices":[]');
const encoder = new TextEncoder();

/**
 * Relays an OpenAI-format SSE body byte for byte, as each chunk arrives, never re-serialised; only the usage
 * event is parsed. A failure after the first byte becomes a final `event: error` frame.
 *
 * With `rewriteTail` (the gateway asked for usage the client did not, or the client's usage chunk gets its
 * cost), whole events are relayed as they complete, and from the event carrying usage on, the tail is held
 * and re-written at the end: usage stripped when the client did not ask for it, `usage.cost` added when it did.
 */
export class OpenAIRelay implements RelayStream {
  private readonly usage = new UsageScanner();
  private first = true;
  private ended = false;
  /** Bytes after the last complete event (rewriteTail only). */
  private partial: Buffer | undefined;
  /** The held tail, from the usage event on (rewriteTail only). */
  private tail: Buffer[] | undefined;
  /** Usage seen on a content event, used when no usage-only event comes. */
  private inlineUsage: Usage | undefined;
  /** Whole events relayed (rewriteTail only): roughly the tokens generated, for a stream cut before its usage. */
  private events = 0;

  constructor(
    readonly chunks: UpstreamBody,
    private readonly observer: UpstreamObserver,
    private readonly toGatewayError: (err: unknown) => GatewayError,
    private readonly rewriteTail = false,
    private readonly clientWantsUsage = true,
  ) {}

  onChunk(chunk: Uint8Array): Uint8Array | undefined {
    if (this.first) {
      this.first = false;
      this.observer.onFirstByte();
    }
    if (!this.rewriteTail) {
      this.usage.feed(chunk);
      return chunk;
    }
    return this.holdTail(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  onEnd(): Uint8Array | undefined {
    if (!this.rewriteTail) {
      this.end("completed");
      return undefined;
    }
    const out = this.rewrittenTail();
    this.end("completed");
    return out;
  }

  onError(err: unknown): Uint8Array {
    const error = this.toGatewayError(err);
    if (this.rewriteTail) this.rewrittenTail(); // records the usage it holds; the bytes are not sent
    this.observer.onPartialOutput(this.events);
    this.end("upstream_error", error);
    return sseErrorFrame(error);
  }

  cancel(): void {
    if (this.rewriteTail) this.rewrittenTail();
    this.observer.onPartialOutput(this.events);
    this.end("client_abort");
    this.chunks.destroy(); // closes the upstream connection: the provider stops generating (and billing)
  }

  /** What to send now: whole events before the usage event; the rest is kept. */
  private holdTail(chunk: Buffer): Uint8Array | undefined {
    if (this.tail) {
      this.tail.push(chunk);
      return undefined;
    }
    const joined = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = undefined;
    // The tail starts at the usage-only event (`"choices":[]`). A server that also puts usage on content events
    // (vLLM's continuous usage stats) has those relayed as they come, their usage kept in case no other comes.
    for (let mark = joined.indexOf(MARK); mark !== -1; ) {
      const before = joined.lastIndexOf(EVENT_END, mark);
      const start = before === -1 ? 0 : before + 2;
      const after = joined.indexOf(EVENT_END, mark);
      if (after === -1) break; // not whole yet: it waits in `partial`
      const event = joined.subarray(start, after);
      if (event.includes(USAGE_ONLY)) {
        this.tail = [joined.subarray(start)];
        return start === 0 ? undefined : joined.subarray(0, start);
      }
      this.inlineUsage = usageOfEvent(event) ?? this.inlineUsage;
      mark = joined.indexOf(MARK, after);
    }
    const end = joined.lastIndexOf(EVENT_END);
    if (end === -1) {
      this.partial = Buffer.from(joined);
      return undefined;
    }
    if (end + 2 < joined.length) this.partial = Buffer.from(joined.subarray(end + 2));
    for (let i = joined.indexOf(EVENT_END); i !== -1 && i <= end; i = joined.indexOf(EVENT_END, i + 2)) this.events++;
    return end + 2 === joined.length ? joined : joined.subarray(0, end + 2);
  }

  /** The held events, usage recorded and re-written; each rewrite runs once. */
  private rewrittenTail(): Uint8Array | undefined {
    const held = this.tail ? Buffer.concat(this.tail) : this.partial;
    this.tail = undefined;
    this.partial = undefined;
    if (this.ended) return undefined;
    if (held === undefined) {
      if (this.inlineUsage) this.observer.onUsage(this.inlineUsage);
      return undefined;
    }
    let out = "";
    let usage: Usage | undefined;
    const parser = createParser({
      onEvent: (event) => {
        const data = event.data;
        if (!data.includes('"usage":{')) {
          out += event.event ? `event: ${event.event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
          return;
        }
        let chunk: { usage?: Usage | null; choices?: unknown[] };
        try {
          chunk = JSON.parse(data) as typeof chunk;
        } catch {
          out += `data: ${data}\n\n`;
          return;
        }
        if (chunk.usage) usage = chunk.usage;
        if (this.clientWantsUsage) {
          const cost = chunk.usage ? this.observer.costOf(chunk.usage) : undefined;
          if (cost !== undefined && chunk.usage) chunk.usage.cost = cost;
          out += `data: ${JSON.stringify(chunk)}\n\n`;
        } else if (Array.isArray(chunk.choices) && chunk.choices.length > 0) {
          delete chunk.usage; // a server that put usage on a content chunk: keep the content
          out += `data: ${JSON.stringify(chunk)}\n\n`;
        }
      },
    });
    parser.feed(held.toString("utf8"));
    parser.feed("\n\n");
    usage ??= this.inlineUsage;
    if (usage) this.observer.onUsage(usage);
    return out === "" ? undefined : encoder.encode(out);
  }

  private end(outcome: StreamOutcome, error?: GatewayError): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.rewriteTail) {
      const usage = this.usage.finish();
      if (usage) this.observer.onUsage(usage);
    }
    this.observer.onStreamEnd(outcome, error);
  }
}

/** The usage of one `data:` event, if it parses. */
function usageOfEvent(event: Buffer): Usage | undefined {
  const data = event.indexOf("data:");
  if (data === -1) return undefined;
  try {
    return (JSON.parse(event.toString("utf8", data + 5)) as { usage?: Usage | null }).usage ?? undefined;
  } catch {
    return undefined;
  }
}
