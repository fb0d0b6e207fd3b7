import { GatewayError } from "../errors.js";

// OpenTelemetry GenAI semantic conventions v1.41 (docs/gen-ai/gen-ai-metrics.md, gen-ai-spans.md): names,
// well-known values and the advised bucket boundaries.

/** gen_ai.provider.name per provider type; an OpenAI-compatible server is reported in OpenAI's flavour. */
export const GEN_AI_PROVIDER: Readonly<Record<string, string>> = {
  openai: "openai",
  "openai-compatible": "openai",
  azure: "azure.ai.openai",
  anthropic: "anthropic",
  gemini: "gcp.gemini",
  bedrock: "aws.bedrock",
  mock: "tollgate.mock",
};

/** gen_ai.operation.name per endpoint. */
export const GEN_AI_OPERATION = { chat: "chat", embeddings: "embeddings" } as const;

export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
export const OPERATION_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
export const TIME_TO_FIRST_TOKEN_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

// Failures below HTTP keep their own names; everything else is the HTTP status, so the set stays small.
const NAMED_FAILURES: Readonly<Record<string, string>> = {
  upstream_timeout: "timeout",
  upstream_unreachable: "connection_error",
  client_closed_request: "client_closed",
  upstream_bad_response: "bad_response",
  upstream_bad_status: "bad_response",
};

/**
 * error.type of a failed upstream attempt, low-cardinality as the conventions ask: "timeout",
 * "connection_error", "client_closed", "bad_response", the upstream's HTTP status ("429", "503"), or "_OTHER".
 */
export function genAiErrorType(err: unknown): string {
  if (!(err instanceof GatewayError)) return "_OTHER";
  const named = err.code === null ? undefined : NAMED_FAILURES[err.code];
  return named ?? String(err.status);
}
