import { invalidRequest } from "../errors.js";
import type { ChatCompletionRequest } from "../openai/schema.js";

export type ParameterStatus = "supported" | "renamed" | "dropped" | "rejected";

export interface ParameterRule {
  status: ParameterStatus;
  /** The native field it becomes, when renamed. */
  native?: string;
  note?: string;
}

/** How each OpenAI chat-completions field reaches a provider: the data the README's tables come from. */
export type ParameterTable = Readonly<Record<string, ParameterRule>>;

/**
 * OpenAI fields that none of the translating providers has an equivalent for: each table starts from these
 * (dropped, named in the warning) and overrides what it maps or explains differently.
 */
export const OPENAI_ONLY: ParameterTable = Object.fromEntries(
  [
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "service_tier",
    "store",
    "metadata",
    "modalities",
    "prediction",
    "reasoning_effort",
    "verbosity",
    "prompt_cache_key",
    "safety_identifier",
  ].map((field) => [field, { status: "dropped" }]),
);

/**
 * What Anthropic's Messages API and Bedrock's Converse (which speaks the same model family's shape) both lack:
 * their tables spread these after OPENAI_ONLY.
 */
export const NOT_IN_MESSAGES_APIS: ParameterTable = {
  presence_penalty: { status: "dropped" },
  frequency_penalty: { status: "dropped" },
  seed: { status: "dropped" },
  metadata: { status: "dropped", note: "OpenAI's stored-completion tags" },
  audio: { status: "dropped" },
  web_search_options: { status: "dropped" },
  functions: { status: "dropped", note: "legacy; use tools" },
  function_call: { status: "dropped", note: "legacy; use tool_choice" },
};

/** Values that ask for nothing (OpenAI's defaults), so they need no warning and no rejection. */
function isInert(field: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (field === "parallel_tool_calls") return value === true; // OpenAI's default; false asks for something
  if (value === false) return true;
  if (field === "n") return value === 1;
  if (field === "response_format") return (value as { type?: unknown }).type === "text";
  return false;
}

/**
 * Checks a request against a provider's table before any upstream call: a rejected field throws a 400; dropped
 * ones, and fields the table does not know, come back as the x-tollgate-warning header (undefined when none).
 * A new OpenAI parameter is thus never silently mistranslated.
 */
export function checkParameters(
  request: ChatCompletionRequest,
  table: ParameterTable,
  provider: string,
): Record<string, string> | undefined {
  let dropped: string[] | undefined;
  for (const field in request) {
    const rule = table[field];
    if (rule !== undefined && (rule.status === "supported" || rule.status === "renamed")) continue;
    if (isInert(field, request[field])) continue;
    if (rule?.status === "rejected") {
      throw invalidRequest(
        `'${field}' is not supported by ${provider} models: ${rule.note ?? "rejected"}`,
        field,
        "unsupported_parameter",
      );
    }
    if (dropped === undefined) dropped = [];
    dropped.push(field);
  }
  if (dropped === undefined) return undefined;
  // Sorted: one header text whatever order the client wrote the fields in.
  return { "x-tollgate-warning": `Unsupported by ${provider}, dropped: ${dropped.sort().join(", ")}` };
}
