import type { IncomingHttpHeaders } from "undici/types/header.js";
import { GatewayError, type OpenAIErrorType } from "../../errors.js";
import { errorTypeFor, keptHeaders } from "../http.js";

// Anthropic's error types (https://docs.anthropic.com/en/api/errors) and what OpenAI calls them.
const BY_TYPE: Record<string, { status: number; type: OpenAIErrorType }> = {
  invalid_request_error: { status: 400, type: "invalid_request_error" },
  authentication_error: { status: 401, type: "authentication_error" },
  billing_error: { status: 402, type: "insufficient_quota" },
  permission_error: { status: 403, type: "permission_error" },
  conflict_error: { status: 409, type: "invalid_request_error" },
  not_found_error: { status: 404, type: "invalid_request_error" },
  request_too_large: { status: 413, type: "invalid_request_error" },
  rate_limit_error: { status: 429, type: "rate_limit_error" },
  api_error: { status: 500, type: "api_error" },
  timeout_error: { status: 504, type: "api_error" },
  overloaded_error: { status: 503, type: "api_error" },
};

/** Anthropic's overloaded status: not HTTP's, so clients see 503 (retryable, as OpenAI's SDKs expect). */
const OVERLOADED = 529;

interface NativeError {
  type?: string;
  message?: string;
}

function parseError(bodyText: string): NativeError {
  try {
    const parsed = JSON.parse(bodyText) as { error?: NativeError };
    if (parsed.error && typeof parsed.error === "object") return parsed.error;
  } catch {
    // not JSON: the text itself is the message below
  }
  return {};
}

function message(provider: string, raw: string | undefined, fallback: string): string {
  return `Upstream provider '${provider}' (anthropic): ${raw ?? fallback}`;
}

/** An HTTP error answer from the Messages API, in OpenAI's form: status, message and retry-after kept. */
export function anthropicHttpError(
  provider: string,
  status: number,
  bodyText: string,
  headers: IncomingHttpHeaders,
): GatewayError {
  const e = parseError(bodyText);
  const fallback = `HTTP ${status}${bodyText ? `: ${bodyText.slice(0, 500)}` : ""}`;
  const isHttpError = status >= 400 && status <= 599;
  const outStatus = status === OVERLOADED ? 503 : isHttpError ? status : 502;
  return new GatewayError(message(provider, e.message, fallback), {
    status: outStatus,
    type: errorTypeFor(outStatus),
    code: isHttpError ? null : "upstream_bad_status",
    headers: keptHeaders(headers),
  });
}

/** An `error` event inside a stream that had started: its type decides the status. */
export function anthropicStreamError(provider: string, data: string): GatewayError {
  const e = parseError(data);
  const known = e.type ? BY_TYPE[e.type] : undefined;
  return new GatewayError(message(provider, e.message, data.slice(0, 500)), {
    status: known?.status ?? 502,
    type: known?.type ?? "api_error",
  });
}

/** A 2xx answer the gateway cannot read. */
export function badAnswer(provider: string, what: string): GatewayError {
  return new GatewayError(message(provider, undefined, what), {
    status: 502,
    type: "api_error",
    code: "upstream_bad_response",
  });
}
