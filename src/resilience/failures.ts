/** What went wrong with one upstream attempt, as far as retries, fallbacks and deployment health care. */
export type FailureKind =
  | "connect"
  | "timeout"
  | "rate_limited"
  | "overloaded"
  | "server"
  | "context_window"
  | "content_policy"
  | "client"
  | "aborted"
  | "other";

export interface FailureClass {
  /** Worth another attempt (same deployment after a backoff, or the next one). */
  retryable: boolean;
  kind: FailureKind;
  /** From `retry-after-ms` or `retry-after` (seconds or an HTTP date), never negative. */
  retryAfterMs?: number;
}

/** The parts of a GatewayError (or any error-like value) classification reads; duck-typed so any layer can call it. */
interface ErrorLike {
  status?: unknown;
  code?: unknown;
  type?: unknown;
  name?: unknown;
  message?: unknown;
  headers?: unknown;
  cause?: unknown;
}

// Anthropic answers 529 (or an `overloaded_error` event mid-stream); the providers re-map it to 503 with the
// message "Overloaded", so the message is the only trace left by the time it reaches us.
const OVERLOADED_STATUS = 529;
const OVERLOADED_MESSAGE = /\boverloaded\b/i;

// Context-window refusals: OpenAI/Azure code `context_length_exceeded` or "maximum context length is N tokens",
// Anthropic "prompt is too long", Bedrock "Input is too long for requested model", Gemini "input token count (N)
// exceeds the maximum". Only read on 4xx other than 429: Bedrock throttling says "Too many tokens" too.
const CONTEXT_CODES = new Set(["context_length_exceeded"]);
const CONTEXT_MESSAGE =
  /prompt is too long|input is too long|too many (input )?tokens|maximum context length|context[ _]length[ _]exceeded|input token count.*exceeds the maximum|exceeds the context window/i;

// OpenAI `content_policy_violation` (images) and `invalid_prompt` (flagged prompts), Azure and our own Gemini
// mapping `content_filter`; Azure's message names its "content management policy".
const POLICY_CODES = new Set(["content_filter", "content_policy_violation", "invalid_prompt"]);
const POLICY_MESSAGE = /content management policy|content_policy_violation/i;

// Below-HTTP failures that never became a GatewayError (a bare undici or socket error).
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);
const TIMEOUT_CODES = new Set([
  "ETIMEDOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * Classifies a thrown error from one upstream attempt. Reads `status`, `code`, `message` and `headers` as
 * src/providers/http.ts shapes them: 502 `upstream_unreachable`, 504 `upstream_timeout`, 499 client abort,
 * otherwise the upstream's own status with its retry headers kept.
 */
export function classifyFailure(err: unknown, now: number = Date.now()): FailureClass {
  const e = (typeof err === "object" && err !== null ? err : {}) as ErrorLike;
  const status = typeof e.status === "number" ? e.status : undefined;
  const code = textOf(e.code) ?? textOf((e.cause as ErrorLike | undefined)?.code);
  const message = textOf(e.message) ?? "";
  const retryAfterMs = parseRetryAfter(e.headers, now);
  const withRetryAfter = (kind: FailureKind, retryable: boolean): FailureClass =>
    retryAfterMs === undefined ? { retryable, kind } : { retryable, kind, retryAfterMs };

  if (status === 499 || code === "client_closed_request" || e.name === "AbortError" || code === "ABORT_ERR") {
    return { retryable: false, kind: "aborted" };
  }
  if (status === undefined) {
    if (code !== undefined && TIMEOUT_CODES.has(code)) return { retryable: true, kind: "timeout" };
    if (e.name === "TimeoutError") return { retryable: true, kind: "timeout" };
    if (code !== undefined && CONNECT_CODES.has(code)) return { retryable: true, kind: "connect" };
    return { retryable: false, kind: "other" };
  }
  if (code === "upstream_unreachable") return { retryable: true, kind: "connect" };
  if (status === 408 || status === 504 || code === "upstream_timeout") return withRetryAfter("timeout", true);
  if (status === 429) return withRetryAfter("rate_limited", true);
  if (status === OVERLOADED_STATUS || code === "overloaded_error" || e.type === "overloaded_error") {
    return withRetryAfter("overloaded", true);
  }
  if (status >= 500) return withRetryAfter(OVERLOADED_MESSAGE.test(message) ? "overloaded" : "server", true);
  if (status >= 400) {
    if ((code !== undefined && CONTEXT_CODES.has(code)) || CONTEXT_MESSAGE.test(message)) {
      return { retryable: false, kind: "context_window" };
    }
    if ((code !== undefined && POLICY_CODES.has(code)) || POLICY_MESSAGE.test(message)) {
      return { retryable: false, kind: "content_policy" };
    }
    return { retryable: false, kind: "client" };
  }
  return { retryable: false, kind: "other" };
}

// The gateway, not the client, chose the deployment and holds its key: these say the deployment cannot serve
// anyone (bad key, unpaid account, wrong model or endpoint), so they count against its health.
const DEPLOYMENT_FAULT_STATUSES = new Set([401, 402, 403, 404]);

/** A client-kind failure that is really the deployment's: its credentials or configuration are broken. */
export function isDeploymentFault(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" && DEPLOYMENT_FAULT_STATUSES.has(status);
}

/**
 * The wait an upstream asked for: `retry-after-ms` (OpenAI, milliseconds) wins over `retry-after` (seconds, or
 * an HTTP date). Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(headers: unknown, now: number = Date.now()): number | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  const h = headers as Record<string, unknown>;
  const ms = textOf(h["retry-after-ms"]);
  if (ms !== undefined) {
    const value = Number(ms);
    if (ms.trim() !== "" && Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = textOf(h["retry-after"])?.trim();
  if (after === undefined || after === "") return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}
