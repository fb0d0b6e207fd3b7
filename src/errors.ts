/** The one error type of the gateway. Everything a client sees as an error is one of these, mapped once by toOpenAIError(). */
export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "api_error"
  | "server_error";

export interface GatewayErrorInit {
  status: number;
  type: OpenAIErrorType;
  code?: string | null;
  param?: string | null;
  /** Response headers worth keeping (e.g. an upstream's retry-after). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string> | undefined;

  constructor(message: string, init: GatewayErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "GatewayError";
    this.status = init.status;
    this.type = init.type;
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.headers = init.headers;
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Any thrown value becomes an OpenAI-shaped error; unknown errors never leak their message or stack. */
export function toOpenAIError(err: unknown): {
  status: number;
  body: OpenAIErrorBody;
  headers?: Record<string, string>;
} {
  if (err instanceof GatewayError) {
    return {
      status: err.status,
      body: { error: { message: err.message, type: err.type, param: err.param, code: err.code } },
      headers: err.headers,
    };
  }
  return {
    status: 500,
    body: { error: { message: "Internal gateway error", type: "server_error", param: null, code: "internal_error" } },
  };
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new GatewayError(message, { status: 400, type: "invalid_request_error", param, code });
