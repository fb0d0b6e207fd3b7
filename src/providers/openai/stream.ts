import type { GatewayError } from "../../errors.js";
import { sseErrorFrame } from "../../openai/sse.js";
import type { ByteStream, StreamOutcome, UpstreamObserver } from "../types.js";
import { UsageScanner } from "./usage-scan.js";

type UpstreamBody = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * Relays an OpenAI-format SSE body byte for byte, as each chunk arrives, never re-serialised; only the usage
 * event is parsed. A failure after the first byte becomes a final `event: error` frame.
 */
export function relayOpenAIStream(
  body: UpstreamBody,
  observer: UpstreamObserver,
  toGatewayError: (err: unknown) => GatewayError,
): ByteStream {
  return new OpenAIRelay(body, observer, toGatewayError);
}

class OpenAIRelay implements ByteStream {
  private readonly chunks: AsyncIterator<Uint8Array>;
  private readonly usage = new UsageScanner();
  private first = true;
  private ended = false;

  constructor(
    private readonly body: UpstreamBody,
    private readonly observer: UpstreamObserver,
    private readonly toGatewayError: (err: unknown) => GatewayError,
  ) {
    this.chunks = body[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.ended) return DONE;
    try {
      const chunk = await this.chunks.next();
      if (chunk.done) {
        this.end("completed");
        return DONE;
      }
      if (this.first) {
        this.first = false;
        this.observer.onFirstByte();
      }
      this.usage.feed(chunk.value);
      return chunk;
    } catch (err) {
      if (this.ended) return DONE; // cancelled by the client: nothing more to send
      const error = this.toGatewayError(err);
      this.end("upstream_error", error);
      return { value: sseErrorFrame(error), done: false };
    }
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.cancel();
    return DONE;
  }

  cancel(): void {
    if (this.ended) return;
    this.end("client_abort");
    this.body.destroy(); // closes the upstream connection: the provider stops generating (and billing)
  }

  private end(outcome: StreamOutcome, error?: GatewayError): void {
    this.ended = true;
    const usage = this.usage.finish();
    if (usage) this.observer.onUsage(usage);
    this.observer.onStreamEnd(outcome, error);
  }
}
