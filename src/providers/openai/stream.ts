import type { GatewayError } from "../../errors.js";
import { sseErrorFrame } from "../../openai/sse.js";
import type { RelayStream, StreamOutcome, UpstreamObserver } from "../types.js";
import { UsageScanner } from "./usage-scan.js";

type UpstreamBody = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };

/**
 * Relays an OpenAI-format SSE body byte for byte, as each chunk arrives, never re-serialised; only the usage
 * event is parsed. A failure after the first byte becomes a final `event: error` frame.
 */
export class OpenAIRelay implements RelayStream {
  private readonly usage = new UsageScanner();
  private first = true;
  private ended = false;

  constructor(
    readonly chunks: UpstreamBody,
    private readonly observer: UpstreamObserver,
    private readonly toGatewayError: (err: unknown) => GatewayError,
  ) {}

  onChunk(chunk: Uint8Array): Uint8Array {
    if (this.first) {
      this.first = false;
      this.observer.onFirstByte();
    }
    this.usage.feed(chunk);
    return chunk;
  }

  onEnd(): undefined {
    this.end("completed");
    return undefined;
  }

  onError(err: unknown): Uint8Array {
    const error = this.toGatewayError(err);
    this.end("upstream_error", error);
    return sseErrorFrame(error);
  }

  cancel(): void {
    this.end("client_abort");
    this.chunks.destroy(); // closes the upstream connection: the provider stops generating (and billing)
  }

  private end(outcome: StreamOutcome, error?: GatewayError): void {
    if (this.ended) return;
    this.ended = true;
    const usage = this.usage.finish();
    if (usage) this.observer.onUsage(usage);
    this.observer.onStreamEnd(outcome, error);
  }
}
