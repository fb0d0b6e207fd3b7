import type {
  ContentBlock,
  ConverseStreamCommandInput,
  ImageFormat,
  Message,
  SystemContentBlock,
  Tool,
  ToolChoice,
} from "@aws-sdk/client-bedrock-runtime";
import { invalidRequest } from "../../errors.js";
import type { ChatCompletionRequest, ChatMessage } from "../../openai/schema.js";

/** Converse and ConverseStream take the same input. */
export type ConverseInput = ConverseStreamCommandInput;

type Part = { type: string; text?: string; refusal?: string; image_url?: { url?: string } | string };
type ToolCall = { id?: string; type?: string; function?: { name?: string; arguments?: string } };
type OpenAITool = { type: string; function?: { name: string; description?: string; parameters?: unknown } };
type Document = NonNullable<ContentBlock.ToolUseMember["toolUse"]["input"]>;

/** The Converse input for an OpenAI chat-completions request. Throws a 400 for what cannot be expressed. */
export function buildRequest(req: ChatCompletionRequest, modelId: string): ConverseInput {
  const system: SystemContentBlock[] = [];
  const turns: Message[] = [];
  for (const m of req.messages) {
    if (m.role === "system" || m.role === "developer") {
      const text = textOf(m.content);
      if (text) system.push({ text });
      continue;
    }
    const blocks = blocksOf(m);
    const role = m.role === "assistant" ? "assistant" : "user";
    const prev = turns.at(-1);
    // Converse wants alternating turns: consecutive same-role messages (e.g. several tool results) become one.
    if (prev && prev.role === role) prev.content?.push(...blocks);
    else turns.push({ role, content: blocks });
  }

  const input: ConverseInput = { modelId, messages: turns };
  if (system.length) input.system = system;
  const inference: NonNullable<ConverseInput["inferenceConfig"]> = {};
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) inference.maxTokens = maxTokens;
  if (req.temperature != null) inference.temperature = req.temperature;
  if (req.top_p != null) inference.topP = req.top_p;
  if (req.stop != null) inference.stopSequences = typeof req.stop === "string" ? [req.stop] : req.stop;
  if (Object.keys(inference).length) input.inferenceConfig = inference;
  // tool_choice none: Converse has no "none", so the model is simply not offered the tools.
  if (req.tools?.length && req.tool_choice !== "none") {
    const tools = (req.tools as OpenAITool[]).map(toolOf);
    const toolChoice = toolChoiceOf(req.tool_choice);
    input.toolConfig = toolChoice ? { tools, toolChoice } : { tools };
  }
  return input;
}

function toolOf(tool: OpenAITool): Tool {
  if (tool.type !== "function" || !tool.function) {
    throw invalidRequest(`Tool type '${tool.type}' is not supported by Bedrock models`, "tools");
  }
  const f = tool.function;
  const json = (f.parameters ?? { type: "object", properties: {} }) as Document;
  return {
    toolSpec: f.description
      ? { name: f.name, description: f.description, inputSchema: { json } }
      : { name: f.name, inputSchema: { json } },
  };
}

function toolChoiceOf(choice: unknown): ToolChoice | undefined {
  if (choice == null) return undefined;
  if (choice === "auto") return { auto: {} };
  if (choice === "required") return { any: {} };
  const named = choice as { type?: string; function?: { name?: string } };
  if (named.type !== "function" || typeof named.function?.name !== "string") {
    throw invalidRequest("tool_choice must be auto, none, required or a named function", "tool_choice");
  }
  return { tool: { name: named.function.name } };
}

function blocksOf(m: ChatMessage): ContentBlock[] {
  if (m.role === "tool") {
    if (!m.tool_call_id) throw invalidRequest("A tool message needs tool_call_id", "messages");
    return [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text: textOf(m.content) }] } }];
  }
  if (m.role === "function") {
    throw invalidRequest("Legacy 'function' messages are not supported by Bedrock models; use tool", "messages");
  }
  const blocks: ContentBlock[] = [];
  if (typeof m.content === "string") {
    if (m.content !== "") blocks.push({ text: m.content });
  } else if (Array.isArray(m.content)) {
    for (const part of m.content as Part[]) blocks.push(...partOf(part));
  }
  if (m.role === "assistant") {
    for (const call of (m.tool_calls as ToolCall[] | undefined) ?? []) blocks.push(toolUseOf(call));
  }
  return blocks;
}

function partOf(part: Part): ContentBlock[] {
  switch (part.type) {
    case "text":
      // Converse rejects blank text blocks; an empty part carries nothing anyway.
      return part.text ? [{ text: part.text }] : [];
    case "refusal":
      return part.refusal ? [{ text: part.refusal }] : [];
    case "image_url":
      return [imageOf(typeof part.image_url === "string" ? part.image_url : part.image_url?.url)];
    default:
      throw invalidRequest(`Content part type '${part.type}' is not supported by Bedrock models`, "messages");
  }
}

const DATA_URL = /^data:image\/([a-z]+);base64,(.*)$/s;
const FORMATS: Record<string, ImageFormat> = { png: "png", jpeg: "jpeg", jpg: "jpeg", gif: "gif", webp: "webp" };

/** Bedrock takes image bytes only: it cannot fetch a URL, so only base64 data URLs are accepted. */
function imageOf(url: string | undefined): ContentBlock {
  const data = url ? DATA_URL.exec(url) : null;
  if (!data) {
    throw invalidRequest("Bedrock models take images as base64 data URLs only (no http(s) URLs)", "messages");
  }
  const format = FORMATS[(data[1] as string).toLowerCase()];
  if (!format) throw invalidRequest(`Image type 'image/${data[1]}' is not supported by Bedrock models`, "messages");
  return { image: { format, source: { bytes: Buffer.from(data[2] as string, "base64") } } };
}

function toolUseOf(call: ToolCall): ContentBlock {
  const name = call.function?.name;
  if (!call.id || !name) throw invalidRequest("An assistant tool call needs an id and a function name", "messages");
  const args = call.function?.arguments ?? "";
  let input: Document = {};
  try {
    if (args.trim() !== "") input = JSON.parse(args) as Document;
  } catch {
    throw invalidRequest(`The arguments of tool call '${call.id}' are not valid JSON`, "messages");
  }
  return { toolUse: { toolUseId: call.id, name, input } };
}

/** Text of a string or text-part content; system prompts and tool results here are plain text. */
function textOf(content: ChatMessage["content"]): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return (content as Part[])
    .map((p) => {
      if (p.type !== "text") throw invalidRequest(`Only text parts are supported here, not '${p.type}'`, "messages");
      return p.text ?? "";
    })
    .join("");
}
