import { GatewayError } from "../../errors.js";
import { errorTypeFor, transportError } from "../http.js";

// Bedrock's exception names (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html)
// and their HTTP statuses: used when an error has no status, as exceptions inside a stream have none.
const STATUS_BY_NAME: Record<string, number> = {
  ValidationException: 400,
  AccessDeniedException: 403,
  UnrecognizedClientException: 403,
  InvalidSignatureException: 403,
  ExpiredTokenException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
  ServiceQuotaExceededException: 429,
  ThrottlingException: 429,
  InternalServerException: 500,
  ModelStreamErrorException: 502,
  ServiceUnavailableException: 503,
  ModelNotReadyException: 503,
};

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/** Stream exceptions arrive with camelCase names (throttlingException); the SDK's classes use PascalCase. */
function canonical(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Any SDK failure as the error the client sees: status, OpenAI type, the raw message and retry-after kept. */
export function bedrockError(provider: string, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = (err ?? {}) as SdkError;
  const name = canonical(e.name ?? "");
  const fromStatus = e.$metadata?.httpStatusCode;
  const known = STATUS_BY_NAME[name];
  // No HTTP status and no known exception name: a failure below HTTP (refused, reset, aborted, timed out).
  if (known === undefined && (fromStatus === undefined || fromStatus < 400)) return transportError(provider, err);
  const status = fromStatus !== undefined && fromStatus >= 400 ? fromStatus : (known as number);
  const retryAfter = e.$response?.headers?.["retry-after"];
  return new GatewayError(`Upstream provider '${provider}' (bedrock): ${name}: ${e.message ?? "unknown error"}`, {
    status,
    type: errorTypeFor(status),
    code: name || null,
    headers: retryAfter ? { "retry-after": retryAfter } : undefined,
    cause: err,
  });
}

/** A 2xx answer the gateway cannot read. */
export function badAnswer(provider: string, what: string): GatewayError {
  return new GatewayError(`Upstream provider '${provider}' (bedrock): ${what}`, {
    status: 502,
    type: "api_error",
    code: "upstream_bad_response",
  });
}
