import { NOT_IN_MESSAGES_APIS, OPENAI_ONLY, type ParameterTable } from "../params.js";

/**
 * How each OpenAI chat-completions field reaches Bedrock's Converse API. Fields not listed here are dropped
 * with a warning, so a new OpenAI parameter is never silently mistranslated.
 */
export const PARAMETERS: ParameterTable = {
  ...OPENAI_ONLY,
  model: { status: "supported", note: "replaced by the deployment's upstream model (the Bedrock modelId)" },
  messages: {
    status: "renamed",
    native: "messages, system",
    note: "system/developer go to `system`; tool results become `toolResult` blocks in a user turn; same-role turns merged; images as data URLs only",
  },
  stream: { status: "supported", note: "served by ConverseStream" },
  stream_options: { status: "supported", note: "include_usage is served by the gateway; usage is always read" },
  max_tokens: { status: "renamed", native: "inferenceConfig.maxTokens" },
  max_completion_tokens: { status: "renamed", native: "inferenceConfig.maxTokens", note: "wins over max_tokens" },
  temperature: { status: "renamed", native: "inferenceConfig.temperature" },
  top_p: { status: "renamed", native: "inferenceConfig.topP" },
  stop: { status: "renamed", native: "inferenceConfig.stopSequences", note: "a string becomes a one-element array" },
  tools: {
    status: "renamed",
    native: "toolConfig.tools",
    note: "function tools only: toolSpec {name, description, inputSchema.json}",
  },
  tool_choice: {
    status: "renamed",
    native: "toolConfig.toolChoice",
    note: "auto -> auto, required -> any, a named function -> tool; none omits toolConfig",
  },
  n: { status: "rejected", note: "only n = 1: Converse returns one choice" },
  parallel_tool_calls: { status: "dropped", note: "Converse has no switch for it" },
  response_format: { status: "dropped", note: "Converse has no JSON mode (type text is a no-op)" },
  user: { status: "dropped" },
  ...NOT_IN_MESSAGES_APIS,
};
