import { OPENAI_ONLY, type ParameterTable } from "../params.js";

/**
 * How each OpenAI chat-completions field reaches Gemini's generateContent. Fields not listed are dropped with a
 * warning, like the `dropped` ones: a client is told, never silently mistranslated.
 */
export const PARAMETERS: ParameterTable = {
  ...OPENAI_ONLY,
  model: { status: "supported", note: "in the URL path: models/{model}:generateContent" },
  messages: { status: "renamed", native: "contents, systemInstruction" },
  stream: { status: "supported", note: "selects :streamGenerateContent?alt=sse" },
  stream_options: { status: "supported", note: "include_usage is honoured by the gateway; usage is always read" },
  temperature: { status: "renamed", native: "generationConfig.temperature" },
  top_p: { status: "renamed", native: "generationConfig.topP" },
  n: { status: "renamed", native: "generationConfig.candidateCount" },
  max_tokens: { status: "renamed", native: "generationConfig.maxOutputTokens" },
  max_completion_tokens: { status: "renamed", native: "generationConfig.maxOutputTokens" },
  stop: { status: "renamed", native: "generationConfig.stopSequences" },
  presence_penalty: { status: "renamed", native: "generationConfig.presencePenalty" },
  frequency_penalty: { status: "renamed", native: "generationConfig.frequencyPenalty" },
  seed: { status: "renamed", native: "generationConfig.seed" },
  response_format: {
    status: "renamed",
    native: "generationConfig.responseMimeType, generationConfig.responseSchema",
    note: "json_object and json_schema; text is the default",
  },
  tools: { status: "renamed", native: "tools[].functionDeclarations", note: "function tools only" },
  tool_choice: { status: "renamed", native: "toolConfig.functionCallingConfig" },
  parallel_tool_calls: { status: "dropped", note: "Gemini has no switch for it" },
  user: { status: "dropped" },
  reasoning_effort: { status: "dropped", note: "Gemini's thinkingConfig is not mapped" },
  modalities: { status: "dropped", note: "text output only" },
  audio: { status: "rejected", note: "audio output is not supported through Gemini" },
  functions: { status: "rejected", note: "the legacy functions API: use tools" },
  function_call: { status: "rejected", note: "the legacy functions API: use tool_choice" },
  web_search_options: { status: "rejected", note: "web search is not supported through Gemini" },
};
