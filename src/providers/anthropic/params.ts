import { NOT_IN_MESSAGES_APIS, OPENAI_ONLY, type ParameterTable } from "../params.js";

/**
 * How each OpenAI chat-completions field reaches the Anthropic Messages API. Fields not listed here are
 * dropped with a warning, so a new OpenAI parameter is never silently mistranslated.
 */
export const PARAMETERS: ParameterTable = {
  ...OPENAI_ONLY,
  model: { status: "supported", note: "replaced by the deployment's upstream model" },
  messages: {
    status: "renamed",
    native: "messages, system",
    note: "system/developer go to `system`; tool results become `tool_result` blocks; same-role turns merged",
  },
  stream: { status: "supported" },
  stream_options: { status: "supported", note: "include_usage is served by the gateway; usage is always read" },
  max_tokens: { status: "renamed", native: "max_tokens", note: "default 4096 when neither is given" },
  max_completion_tokens: { status: "renamed", native: "max_tokens", note: "wins over max_tokens" },
  temperature: { status: "supported", note: "Anthropic accepts 0..1; it rejects larger values" },
  top_p: { status: "supported" },
  stop: { status: "renamed", native: "stop_sequences", note: "a string becomes a one-element array" },
  tools: { status: "renamed", native: "tools", note: "function tools only: {name, description, input_schema}" },
  tool_choice: {
    status: "renamed",
    native: "tool_choice",
    note: "auto, none, required -> any, a named function -> tool",
  },
  parallel_tool_calls: {
    status: "renamed",
    native: "tool_choice.disable_parallel_tool_use",
    note: "false disables parallel tool use",
  },
  user: { status: "renamed", native: "metadata.user_id" },
  n: { status: "rejected", note: "only n = 1: Anthropic returns one choice" },
  response_format: {
    status: "dropped",
    note: "Anthropic has no JSON mode; json_object/json_schema are dropped (type text is a no-op)",
  },
  ...NOT_IN_MESSAGES_APIS,
};
