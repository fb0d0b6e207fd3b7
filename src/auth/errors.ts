import { GatewayError } from "../errors.js";

// OpenAI's own shapes: 401 invalid_request_error/invalid_api_key, with the key masked in the message.
export function missingKey(): GatewayError {
  return new GatewayError(
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    { status: 401, type: "invalid_request_error", code: "invalid_api_key" },
  );
}

export function incorrectKey(masked: string, why = ""): GatewayError {
  return new GatewayError(`Incorrect API key provided: ${masked}.${why}`, {
    status: 401,
    type: "invalid_request_error",
    code: "invalid_api_key",
  });
}

export function expiredKey(masked: string, expiresAt: number): GatewayError {
  return new GatewayError(
    `The API key ${masked} expired at ${new Date(expiresAt).toISOString()}. Ask your administrator for a new key.`,
    { status: 401, type: "invalid_request_error", code: "key_expired" },
  );
}

export function modelNotAllowed(alias: string, allowed: readonly string[]): GatewayError {
  return new GatewayError(
    `This API key is not allowed to use the model '${alias}'. Allowed models: ${allowed.join(", ")}.`,
    { status: 403, type: "permission_error", param: "model", code: "model_not_allowed" },
  );
}

export function notFound(what: string, id: string): GatewayError {
  return new GatewayError(`No ${what} with id '${id}'.`, { status: 404, type: "not_found_error", code: "not_found" });
}

export function conflict(message: string, param: string | null = null): GatewayError {
  return new GatewayError(message, { status: 409, type: "invalid_request_error", param, code: "conflict" });
}

export function badValue(message: string, param: string): GatewayError {
  return new GatewayError(message, { status: 400, type: "invalid_request_error", param, code: "invalid_value" });
}
