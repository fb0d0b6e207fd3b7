import { invalidRequest } from "../../errors.js";
import type { ChatCompletionRequest, ChatMessage } from "../../openai/schema.js";
import { partsOf, textOf, toGeminiSchema } from "./content.js";
import type { GeminiContent, GeminiPart, GeminiRequest } from "./native.js";

interface ToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/** Gemini's generateContent body for an OpenAI chat request. */
export function buildRequest(request: ChatCompletionRequest): GeminiRequest {
  const body: GeminiRequest = { contents: [] };
  const system: GeminiPart[] = [];
  // Gemini names a function result by the function's name; OpenAI by the call's id.
  const toolNames = new Map<string, string>();

  request.messages.forEach((message, i) => {
    const param = `messages[${i}].content`;
    switch (message.role) {
      case "system":
      case "developer":
        system.push({ text: textOf(message.content, param) });
        return;
      case "user":
        push(body.contents, "user", partsOf(message.content, param));
        return;
      case "assistant":
        push(body.contents, "model", assistantParts(message, i, toolNames));
        return;
      case "tool":
      case "function":
        push(body.contents, "user", [toolResult(message, i, toolNames)]);
        return;
    }
  });
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (body.contents.length === 0) throw invalidRequest("Gemini needs at least one non-system message", "messages");

  addTools(body, request);
  const config = generationConfig(request);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  return body;
}

/** Consecutive turns of one role are merged: Gemini expects user and model to alternate. */
function push(contents: GeminiContent[], role: GeminiContent["role"], parts: GeminiPart[]): void {
  if (parts.length === 0) return;
  const last = contents.at(-1);
  if (last?.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

function assistantParts(message: ChatMessage, i: number, toolNames: Map<string, string>): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const text = textOf(message.content, `messages[${i}].content`);
  if (text !== "") parts.push({ text });
  const calls = (message.tool_calls ?? []) as ToolCall[];
  calls.forEach((call, j) => {
    const name = call.function?.name;
    if (!name) throw invalidRequest("Expected a function name", `messages[${i}].tool_calls[${j}].function.name`);
    if (call.id) toolNames.set(call.id, name);
    parts.push({ functionCall: { name, args: parseArgs(call.function?.arguments, i, j) } });
  });
  return parts;
}

function parseArgs(args: string | undefined, i: number, j: number): Record<string, unknown> {
  if (args === undefined || args.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw invalidRequest(
    "Expected the arguments to be a JSON object",
    `messages[${i}].tool_calls[${j}].function.arguments`,
  );
}

function toolResult(message: ChatMessage, i: number, toolNames: Map<string, string>): GeminiPart {
  const name = message.role === "function" ? message.name : toolNames.get(message.tool_call_id ?? "");
  if (!name) {
    throw invalidRequest(
      `No earlier assistant tool call has the id '${message.tool_call_id ?? ""}'`,
      `messages[${i}].tool_call_id`,
    );
  }
  const text = textOf(message.content, `messages[${i}].content`);
  // Gemini takes a JSON object as the result; anything else is wrapped.
  let response: Record<string, unknown> = { content: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      response = parsed as Record<string, unknown>;
    }
  } catch {
    // plain text: keep the wrapper
  }
  return { functionResponse: { name, response } };
}

interface FunctionTool {
  type: string;
  function?: { name: string; description?: string; parameters?: unknown };
}

function addTools(body: GeminiRequest, request: ChatCompletionRequest): void {
  const tools = (request.tools ?? []) as FunctionTool[];
  if (tools.length > 0) {
    const functionDeclarations = tools.map((tool, i) => {
      if (tool.type !== "function" || !tool.function) {
        throw invalidRequest(`Tool type '${tool.type}' is not supported by Gemini providers`, `tools[${i}].type`);
      }
      const { name, description, parameters } = tool.function;
      return {
        name,
        ...(description !== undefined ? { description } : {}),
        ...(parameters !== undefined ? { parameters: toGeminiSchema(parameters) } : {}),
      };
    });
    body.tools = [{ functionDeclarations }];
  }
  const choice = request.tool_choice as string | { type?: string; function?: { name?: string } } | undefined | null;
  if (choice === undefined || choice === null) return;
  if (choice === "auto") body.toolConfig = { functionCallingConfig: { mode: "AUTO" } };
  else if (choice === "none") body.toolConfig = { functionCallingConfig: { mode: "NONE" } };
  else if (choice === "required") body.toolConfig = { functionCallingConfig: { mode: "ANY" } };
  else if (typeof choice === "object" && choice.type === "function" && choice.function?.name) {
    body.toolConfig = { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.function.name] } };
  } else {
    throw invalidRequest("Unsupported tool_choice for Gemini providers", "tool_choice");
  }
}

function generationConfig(request: ChatCompletionRequest): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) config[key] = value;
  };
  set("temperature", request.temperature);
  set("topP", request.top_p);
  set("maxOutputTokens", request.max_completion_tokens ?? request.max_tokens);
  set("stopSequences", typeof request.stop === "string" ? [request.stop] : request.stop);
  set("candidateCount", request.n);
  set("seed", request.seed);
  set("presencePenalty", request.presence_penalty);
  set("frequencyPenalty", request.frequency_penalty);
  const format = request.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined | null;
  if (format?.type === "json_object") config.responseMimeType = "application/json";
  else if (format?.type === "json_schema") {
    config.responseMimeType = "application/json";
    if (format.json_schema?.schema !== undefined) config.responseSchema = toGeminiSchema(format.json_schema.schema);
  } else if (format && format.type !== "text") {
    throw invalidRequest(`Unsupported response_format type '${format.type}'`, "response_format");
  }
  return config;
}
