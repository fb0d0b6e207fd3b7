import type { IncomingHttpHeaders } from "undici/types/header.js";
import { GatewayError } from "../../errors.js";
import { errorTypeFor, keptHeaders } from "../http.js";

/** Gemini's error body, `{error: {code, message, status}}`, from an HTTP answer or a stream event. */
export interface GeminiErrorBody {
  code?: number;
  message?: string;
  status?: string;
}

/** A Gemini error as the OpenAI-shaped error the client sees: status, message and retry hints kept. */
export function geminiError(
  provider: string,
  httpStatus: number,
  error: GeminiErrorBody | undefined,
  headers?: IncomingHttpHeaders,
  fallbackText = "",
): GatewayError {
  // Anthropic-style "overloaded" 529 is not Gemini's, but any such status is still a retryable 503 to clients.
  const status = httpStatus === 529 ? 503 : httpStatus >= 400 && httpStatus <= 599 ? httpStatus : 502;
  const detail = error?.message ?? (fallbackText ? fallbackText.slice(0, 500) : `HTTP ${httpStatus}`);
  const kind = error?.status ? ` ${error.status}` : "";
  return new GatewayError(`gemini provider '${provider}' returned ${httpStatus}${kind}: ${detail}`, {
    status,
    type: errorTypeFor(status),
    code: error?.status ?? null,
    headers: headers ? keptHeaders(headers) : undefined,
  });
}

/** An HTTP error answer's body, parsed when it is Gemini's JSON. */
export function httpError(provider: string, status: number, text: string, headers: IncomingHttpHeaders): GatewayError {
  let error: GeminiErrorBody | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: GeminiErrorBody } | GeminiErrorBody[];
    // Some Google front ends wrap the error in a one-element array.
    const body = Array.isArray(parsed) ? (parsed[0] as { error?: GeminiErrorBody } | undefined) : parsed;
    if (body?.error && typeof body.error === "object") error = body.error;
  } catch {
    // not JSON: the text is kept below
  }
  return geminiError(provider, status, error, headers, text);
}

/** A prompt Gemini refused to answer at all (promptFeedback.blockReason, no candidates). */
export function blockedPrompt(provider: string, reason: string, message?: string): GatewayError {
  return new GatewayError(
    `gemini provider '${provider}' blocked the prompt (blockReason ${reason})${message ? `: ${message}` : ""}`,
    { status: 400, type: "invalid_request_error", code: "content_filter" },
  );
}
