import { type Dispatcher, errors, Pool } from "undici";
import type { IncomingHttpHeaders } from "undici/types/header.js";
import type { ProviderConfig, Timeouts } from "../config/schema.js";
import { GatewayError, type OpenAIErrorType } from "../errors.js";
import type { AbortSignalLike } from "./types.js";

/** One keep-alive pool per upstream origin, so one provider's slowness never queues another's requests. */
export function createPool(origin: string, config: ProviderConfig, timeouts: Timeouts): Pool {
  const t = { ...timeouts, ...config.timeouts };
  return new Pool(origin, {
    connections: config.max_connections,
    pipelining: 1,
    connect: { timeout: t.connect_ms },
    headersTimeout: t.first_byte_ms,
    bodyTimeout: t.idle_ms,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
  });
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
]);

export const CLIENT_CLOSED = 499;

/** A failure below HTTP (refused, reset, timed out, aborted) as the error the client sees. */
export function transportError(provider: string, err: unknown): GatewayError {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (e.name === "AbortError" || code === "UND_ERR_ABORTED" || code === "ABORT_ERR") {
    return new GatewayError("The client closed the request", {
      status: CLIENT_CLOSED,
      type: "api_error",
      code: "client_closed_request",
      cause: err,
    });
  }
  if (code && TIMEOUT_CODES.has(code)) {
    return new GatewayError(`Upstream provider '${provider}' timed out (${code})`, {
      status: 504,
      type: "api_error",
      code: "upstream_timeout",
      cause: err,
    });
  }
  return new GatewayError(`Upstream provider '${provider}' is unreachable (${code ?? e.message ?? "unknown error"})`, {
    status: 502,
    type: "api_error",
    code: "upstream_unreachable",
    cause: err,
  });
}

const TYPE_BY_STATUS: Readonly<Record<number, OpenAIErrorType>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "insufficient_quota",
  403: "permission_error",
  404: "invalid_request_error",
  409: "invalid_request_error",
  413: "invalid_request_error",
  422: "invalid_request_error",
  429: "rate_limit_error",
};

/** OpenAI's error type for an HTTP status, as every provider maps it. */
export function errorTypeFor(status: number): OpenAIErrorType {
  return TYPE_BY_STATUS[status] ?? "api_error";
}

const KEPT_HEADERS = [
  "retry-after",
  "retry-after-ms",
  "x-ratelimit-limit-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-requests",
  "x-ratelimit-reset-tokens",
];

/** Upstream headers a client's SDK acts on (retry-after, rate-limit hints); undefined when there are none. */
export function keptHeaders(headers: IncomingHttpHeaders): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name of KEPT_HEADERS) {
    const v = headers[name];
    if (typeof v !== "string") continue;
    if (out === undefined) out = {};
    out[name] = v;
  }
  return out;
}

/** An upstream's HTTP error, re-shaped to OpenAI's form with its status and message kept. */
export function upstreamHttpError(
  provider: string,
  status: number,
  bodyText: string,
  headers: IncomingHttpHeaders,
): GatewayError {
  let message: string | undefined;
  let type: string | undefined;
  let code: string | null = null;
  let param: string | null = null;
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = parsed.error;
    if (e && typeof e === "object") {
      const o = e as Record<string, unknown>;
      if (typeof o.message === "string") message = o.message;
      if (typeof o.type === "string") type = o.type;
      if (typeof o.code === "string" || typeof o.code === "number") code = String(o.code);
      if (typeof o.param === "string") param = o.param;
    } else if (typeof e === "string") message = e;
    else if (typeof parsed.message === "string") message = parsed.message;
    else if (typeof parsed.detail === "string") message = parsed.detail;
  } catch {
    // not JSON: keep a bounded slice of the text below
  }
  message ??= `Upstream provider '${provider}' returned HTTP ${status}${bodyText ? `: ${bodyText.slice(0, 500)}` : ""}`;
  const isHttpError = status >= 400 && status <= 599;
  return new GatewayError(message, {
    status: isHttpError ? status : 502,
    type: (type as OpenAIErrorType | undefined) ?? errorTypeFor(status),
    code: code ?? (isHttpError ? null : "upstream_bad_status"),
    param,
    headers: keptHeaders(headers),
  });
}

/** SSE, or AWS's binary event stream (Bedrock's ConverseStream). */
export function isEventStream(contentType: string | string[] | undefined): boolean {
  return (
    typeof contentType === "string" &&
    (contentType.startsWith("text/event-stream") || contentType.startsWith("application/vnd.amazon.eventstream"))
  );
}

export interface BufferedResponse {
  kind: "whole";
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request whose answer is collected as bytes straight from undici's dispatch handler: no Readable stream and
 * no async iterator per answer, which `pool.request()` plus `for await` cost (measured on the JSON path).
 */
export function requestBuffered(
  pool: Pool,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignalLike | undefined,
  onHeaders: { onFirstByte(): void },
  toError: (err: unknown) => GatewayError,
): Promise<BufferedResponse> {
  return new Promise((resolve, reject) => {
    pool.dispatch(options, new BufferingHandler(resolve, reject, signal, onHeaders, toError));
  });
}

class BufferingHandler implements Dispatcher.DispatchHandler {
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private controller: Dispatcher.DispatchController | undefined;
  private clientGone = false;
  private settled = false;
  private readonly stopListening: (() => void) | undefined;

  constructor(
    private readonly resolve: (response: BufferedResponse) => void,
    private readonly reject: (err: GatewayError) => void,
    signal: AbortSignalLike | undefined,
    private readonly observer: { onFirstByte(): void },
    private readonly toError: (err: unknown) => GatewayError,
  ) {
    this.stopListening = signal ? onAbort(signal, () => this.abort()) : undefined;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new errors.RequestAbortedError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.statusCode = statusCode;
    this.headers = headers;
    this.observer.onFirstByte();
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    this.stopListening?.();
    const chunks = this.chunks;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.resolve({ kind: "whole", statusCode: this.statusCode, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.stopListening?.();
    this.reject(this.toError(err));
  }

  private abort(): void {
    this.clientGone = true;
    this.controller?.abort(new errors.RequestAbortedError());
  }
}

/** Listens for "abort" on an AbortSignal or an EventEmitter; returns the way to stop listening. */
export function onAbort(signal: AbortSignalLike, listener: () => void): () => void {
  if ("addEventListener" in signal) {
    if (signal.aborted) queueMicrotask(listener);
    else signal.addEventListener("abort", listener, { once: true });
    return () => signal.removeEventListener("abort", listener);
  }
  signal.once("abort", listener);
  return () => signal.removeListener("abort", listener);
}

/** An upstream's answer: whole (JSON, or any error), or an event stream still arriving. */
export type UpstreamAnswer =
  | BufferedResponse
  | { kind: "events"; statusCode: number; headers: IncomingHttpHeaders; body: Dispatcher.ResponseData["body"] };

/** What sendUpstream needs of a call: its abort signal, who hears of the first byte, its trace headers. */
export interface UpstreamCall {
  signal: AbortSignalLike | undefined;
  observer: { onFirstByte(): void };
  traceHeaders?: Record<string, string> | undefined;
}

/**
 * Sends one request for a provider. Without `stream` the answer is collected whole (requestBuffered); with it,
 * a 200 event stream is handed back to be relayed as it arrives and anything else is read whole. Transport
 * failures come back as the provider's GatewayError.
 */
export function sendUpstream(
  pool: Pool,
  options: Dispatcher.DispatchOptions,
  call: UpstreamCall,
  stream: boolean,
  toError: (err: unknown) => GatewayError,
): Promise<UpstreamAnswer> {
  // Every provider's request leaves through here: the one place an attempt's traceparent is added.
  if (call.traceHeaders !== undefined) {
    options = { ...options, headers: { ...(options.headers as Record<string, string>), ...call.traceHeaders } };
  }
  // The JSON path is the hot one: no extra async frame around it.
  if (!stream) return requestBuffered(pool, options, call.signal, call.observer, toError);
  return sendForStream(pool, options, call, toError);
}

async function sendForStream(
  pool: Pool,
  options: Dispatcher.DispatchOptions,
  call: { signal: AbortSignalLike | undefined; observer: { onFirstByte(): void } },
  toError: (err: unknown) => GatewayError,
): Promise<UpstreamAnswer> {
  try {
    const res = await pool.request({ ...options, signal: call.signal });
    call.observer.onFirstByte();
    if (res.statusCode === 200 && isEventStream(res.headers["content-type"])) {
      return { kind: "events", statusCode: 200, headers: res.headers, body: res.body };
    }
    const body = Buffer.from(await res.body.arrayBuffer());
    return { kind: "whole", statusCode: res.statusCode, headers: res.headers, body };
  } catch (err) {
    throw toError(err);
  }
}

/** Headers kept from the upstream plus the gateway's own (x-tollgate-warning); undefined when none. */
export function answerHeaders(
  upstream: IncomingHttpHeaders,
  own: Record<string, string> | undefined,
): Record<string, string> | undefined {
  const kept = keptHeaders(upstream);
  return kept && own ? { ...kept, ...own } : (kept ?? own);
}
