import type { EventEmitter } from "node:events";
import type { ProviderConfig, ProviderType, Timeouts } from "../config/schema.js";
import type { GatewayError } from "../errors.js";
import type { ChatCompletionRequest, EmbeddingsRequest, Usage } from "../openai/schema.js";

/** How a stream ended: what the usage ledger and metrics need to know. */
export type StreamOutcome = "completed" | "upstream_error" | "client_abort";

/** Told about a call as it happens; the pipeline's RequestContext implements it, so no closure per request. */
export interface UpstreamObserver {
  onFirstByte(): void;
  onUsage(usage: Usage): void;
  /** The cost in USD of this usage on this call's deployment, when its price is known (for usage.cost). */
  costOf(usage: Usage): number | undefined;
  /**
   * A stream cut short (client abort, upstream failure): how many chunks of output were relayed, so the
   * tokens already generated can be counted when the upstream never reported its usage.
   */
  onPartialOutput(chunks: number): void;
  /** Called once when a relayed stream ends, whatever the reason. */
  onStreamEnd(outcome: StreamOutcome, error?: GatewayError): void;
}

/** What undici accepts as a signal: an EventEmitter is far cheaper per request than an AbortController. */
export type AbortSignalLike = AbortSignal | EventEmitter;

interface CallBase {
  /** The body exactly as the client sent it; relayed as-is when nothing needs rewriting. */
  rawBody: string;
  upstreamModel: string;
  requestId: string;
  /** Fires `abort` when the client goes away (an AbortSignal, or an EventEmitter that emits "abort"). */
  signal: AbortSignalLike | undefined;
  /** W3C trace context for this attempt (traceparent), sent with the upstream request; only when tracing is on. */
  traceHeaders?: Record<string, string> | undefined;
}

export interface ChatCall extends CallBase {
  request: ChatCompletionRequest;
  stream: boolean;
  observer: UpstreamObserver;
}

export interface EmbeddingsCall extends CallBase {
  request: EmbeddingsRequest;
  observer: UpstreamObserver;
}

/**
 * A streamed answer: the upstream's chunks and what to send for each. The server drives it, writing each
 * result to the client as it comes; no web ReadableStream or extra async layer per chunk (a ReadableStream
 * cost ~40 µs per 22-chunk stream here, measured). A translating provider turns native events into OpenAI
 * chunks in onChunk; a pass-through returns the chunk itself.
 */
export interface RelayStream {
  readonly chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** Bytes to send for this upstream chunk, or undefined for none. */
  onChunk(chunk: Uint8Array): Uint8Array | undefined;
  /** The upstream ended: last bytes to send, if any. */
  onEnd(): Uint8Array | undefined;
  /** The upstream failed after the stream started: the final error frame to send. */
  onError(err: unknown): Uint8Array;
  /** The client went away: stop the upstream (and its billing) now. */
  cancel(): void;
}

export interface UpstreamResult {
  status: number;
  /** A JSON document (string or bytes), or an SSE byte stream in OpenAI's chunk format. */
  body: string | Uint8Array | RelayStream;
  stream: boolean;
  /** Upstream headers worth passing on (rate-limit hints); undefined when none. */
  headers: Record<string, string> | undefined;
}

export interface ProviderClient {
  readonly name: string;
  readonly type: ProviderType;
  /** Why this provider cannot serve now (e.g. its key's variable is unset); routing avoids it while others can. */
  readonly unavailable?: string;
  chat(call: ChatCall): Promise<UpstreamResult>;
  /** Absent where the provider has no embeddings API. */
  embeddings?: (call: EmbeddingsCall) => Promise<UpstreamResult>;
  /** A cheap call that shows the provider answers (active health checks); absent: not probed. */
  probe?(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface ProviderFactory {
  create(name: string, config: ProviderConfig, timeouts: Timeouts): ProviderClient;
}
