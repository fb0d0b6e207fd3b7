import type { ChatCompletionRequest, ChatMessage } from "../openai/schema.js";
import { countTextTokens, type EncodingName, encodingForModel } from "./encoding.js";
import { ASSUMED_UNKNOWN_IMAGE, type ImageDetail, imageSizeFromDataUrl, imageTokens } from "./images.js";

export interface PromptTokenCount {
  tokens: number;
  encoding: EncodingName;
  /** True when every part was counted by a documented rule (text, names, images of known size, known model). */
  exact: boolean;
}

/**
 * A prompt split into the texts to encode and the tokens known without encoding (per-message framing, images,
 * tool-definition constants), so the encoding can run inline or in a worker with the same result.
 */
export interface PromptParts {
  encoding: EncodingName;
  texts: string[];
  fixedTokens: number;
  exact: boolean;
  /** Total characters in `texts`: what decides inline or worker counting. */
  chars: number;
}

// OpenAI cookbook "How to count tokens with tiktoken" (num_tokens_from_messages): every message is framed as
// <|start|>{role/name}\n{content}<|end|>\n = 3 tokens, a name adds 1, and every reply is primed with
// <|start|>assistant<|message|> = 3. Same for cl100k and o200k chat models (129 and 124 tokens on its example).
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

type Tool = NonNullable<ChatCompletionRequest["tools"]>[number];
type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null;
const asString = (value: unknown): string => (typeof value === "string" ? value : "");

export function promptParts(request: ChatCompletionRequest, model: string = request.model): PromptParts {
  const { encoding, known } = encodingForModel(model);
  const parts: PromptParts = { encoding, texts: [], fixedTokens: REPLY_PRIMING, exact: known, chars: 0 };
  const addText = (text: string) => {
    if (text.length === 0) return;
    parts.texts.push(text);
    parts.chars += text.length;
  };
  for (const message of request.messages) addMessage(parts, addText, message, model);
  if (request.tools && request.tools.length > 0) addTools(parts, addText, request.tools, encoding);
  return parts;
}

function addMessage(parts: PromptParts, addText: (text: string) => void, message: ChatMessage, model: string): void {
  parts.fixedTokens += TOKENS_PER_MESSAGE;
  addText(message.role);
  if (message.name !== undefined) {
    addText(message.name);
    parts.fixedTokens += TOKENS_PER_NAME;
  }
  const content = message.content;
  if (typeof content === "string") addText(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (part.type === "text") addText(asString(part.text));
      else if (part.type === "image_url") parts.fixedTokens += imagePartTokens(parts, part.image_url, model);
      else parts.exact = false; // input_audio, file: no published rule
    }
  }
  // Tool calls and tool results: the cookbook's rule is for text; these are counted as their text (an
  // approximation of how the API renders them), so the count is not exact.
  const toolCalls = (message as JsonObject).tool_calls;
  if (Array.isArray(toolCalls)) {
    parts.exact = false;
    for (const call of toolCalls) {
      if (!isObject(call) || !isObject(call.function)) continue;
      addText(asString(call.function.name));
      addText(asString(call.function.arguments));
    }
  }
  if (message.tool_call_id !== undefined) parts.exact = false;
}

function imagePartTokens(parts: PromptParts, imageUrl: unknown, model: string): number {
  const url = isObject(imageUrl) ? asString(imageUrl.url) : asString(imageUrl);
  const rawDetail = isObject(imageUrl) ? imageUrl.detail : undefined;
  const detail: ImageDetail = rawDetail === "low" || rawDetail === "high" ? rawDetail : "auto";
  const size = url.startsWith("data:") ? imageSizeFromDataUrl(url) : undefined;
  if (!size && detail !== "low") parts.exact = false;
  return imageTokens(model, detail, size ?? ASSUMED_UNKNOWN_IMAGE);
}

// Tool definitions: the OpenAI cookbook's num_tokens_for_tools() (section 7 of "How to count tokens with
// tiktoken", first posted on the OpenAI developer forum), which matches the API on its example: 101 tokens on
// gpt-4o, 105 on gpt-4. Nested objects, arrays and other JSON-schema keywords are not counted, so it is inexact.
const TOOL_CONSTANTS = { propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 };
const FUNC_INIT: Record<EncodingName, number> = { o200k_base: 7, cl100k_base: 10, p50k_base: 10, r50k_base: 10 };

function addTools(parts: PromptParts, addText: (text: string) => void, tools: Tool[], encoding: EncodingName): void {
  parts.exact = false;
  const trimDot = (text: string) => (text.endsWith(".") ? text.slice(0, -1) : text);
  for (const tool of tools) {
    const fn = tool.function;
    if (!fn) continue;
    parts.fixedTokens += FUNC_INIT[encoding];
    addText(`${fn.name}:${trimDot(asString(fn.description))}`);
    const parameters = fn.parameters;
    const properties = isObject(parameters) && isObject(parameters.properties) ? parameters.properties : {};
    const keys = Object.keys(properties);
    if (keys.length === 0) continue;
    parts.fixedTokens += TOOL_CONSTANTS.propInit;
    for (const key of keys) {
      const property = properties[key];
      const spec = isObject(property) ? property : {};
      parts.fixedTokens += TOOL_CONSTANTS.propKey;
      if (Array.isArray(spec.enum)) {
        parts.fixedTokens += TOOL_CONSTANTS.enumInit;
        for (const item of spec.enum) {
          parts.fixedTokens += TOOL_CONSTANTS.enumItem;
          addText(String(item));
        }
      }
      addText(`${key}:${asString(spec.type)}:${trimDot(asString(spec.description))}`);
    }
  }
  parts.fixedTokens += TOOL_CONSTANTS.funcEnd;
}

/** Encodes the texts on this thread: ~1-1.5 µs per token (100-155 ms for 100k tokens, bench/tokens.ts). */
export function countParts(parts: PromptParts): PromptTokenCount {
  let tokens = parts.fixedTokens;
  for (const text of parts.texts) tokens += countTextTokens(text, parts.encoding);
  return { tokens, encoding: parts.encoding, exact: parts.exact };
}

/** Prompt tokens of a chat request as OpenAI bills them, counted synchronously (see countPromptTokensAsync). */
export function countPromptTokens(request: ChatCompletionRequest, model: string = request.model): PromptTokenCount {
  return countParts(promptParts(request, model));
}
