import { invalidRequest } from "../../errors.js";
import type { ChatCompletionRequest, ChatMessage } from "../../openai/schema.js";

// The Messages API request, as much of it as Tollgate writes (https://docs.anthropic.com/en/api/messages).
export type ImageSource = { type: "base64"; media_type: string; data: string } | { type: "url"; url: string };
export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "image"; source: ImageSource }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; tool_use_id: string; content: string | ContentBlock[] };

export interface NativeMessage {
  role: "user" | "assistant";
  content: string | ContentBlock[];
}

export type NativeToolChoice =
  | { type: "auto" | "any"; disable_parallel_tool_use?: boolean }
  | { type: "tool"; name: string; disable_parallel_tool_use?: boolean }
  | { type: "none" };

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: NativeMessage[];
  system?: string;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  tools?: { name: string; description?: string; input_schema: unknown }[];
  tool_choice?: NativeToolChoice;
  metadata?: { user_id: string };
  stream?: boolean;
}

export const DEFAULT_MAX_TOKENS = 4096;

type Part = { type: string; text?: string; refusal?: string; image_url?: { url?: string } | string };
type ToolCall = { id?: string; type?: string; function?: { name?: string; arguments?: string } };
type Tool = { type: string; function?: { name: string; description?: string; parameters?: unknown } };

/** The Messages API body for an OpenAI chat-completions request. Throws a 400 for what cannot be expressed. */
export function buildRequest(req: ChatCompletionRequest, upstreamModel: string, stream: boolean): MessagesRequest {
  const system: string[] = [];
  const turns: NativeMessage[] = [];
  for (const m of req.messages) {
    if (m.role === "system" || m.role === "developer") {
      const text = textOf(m.content, "messages");
      if (text) system.push(text);
      continue;
    }
    const blocks = blocksOf(m);
    const prev = turns.at(-1);
    const role = m.role === "assistant" ? "assistant" : "user";
    // Anthropic wants alternating turns: consecutive same-role messages (e.g. several tool results) become one.
    if (prev && prev.role === role) (prev.content as ContentBlock[]).push(...blocks);
    else turns.push({ role, content: blocks });
  }
  for (const t of turns) {
    const only = t.content[0];
    if (t.content.length === 1 && only && typeof only !== "string" && only.type === "text") t.content = only.text;
  }

  const body: MessagesRequest = {
    model: upstreamModel,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? DEFAULT_MAX_TOKENS,
    messages: turns,
  };
  if (system.length) body.system = system.join("\n\n");
  if (req.stop != null) body.stop_sequences = typeof req.stop === "string" ? [req.stop] : req.stop;
  if (req.temperature != null) body.temperature = req.temperature;
  if (req.top_p != null) body.top_p = req.top_p;
  if (req.user) body.metadata = { user_id: req.user };
  if (req.tools?.length) {
    body.tools = req.tools.map(toolOf);
    const choice = toolChoiceOf(req.tool_choice, req.parallel_tool_calls);
    if (choice) body.tool_choice = choice;
  }
  if (stream) body.stream = true;
  return body;
}

function toolOf(tool: Tool): NonNullable<MessagesRequest["tools"]>[number] {
  if (tool.type !== "function" || !tool.function) {
    throw invalidRequest(`Tool type '${tool.type}' is not supported by Anthropic models`, "tools");
  }
  const f = tool.function;
  const out: NonNullable<MessagesRequest["tools"]>[number] = {
    name: f.name,
    input_schema: f.parameters ?? { type: "object", properties: {} },
  };
  if (f.description) out.description = f.description;
  return out;
}

function toolChoiceOf(choice: unknown, parallel: unknown): NativeToolChoice | undefined {
  let out: NativeToolChoice | undefined;
  if (choice == null) out = parallel === false ? { type: "auto" } : undefined;
  else if (choice === "auto") out = { type: "auto" };
  else if (choice === "none") out = { type: "none" };
  else if (choice === "required") out = { type: "any" };
  else {
    const named = choice as { type?: string; function?: { name?: string } };
    if (named.type !== "function" || typeof named.function?.name !== "string") {
      throw invalidRequest("tool_choice must be auto, none, required or a named function", "tool_choice");
    }
    out = { type: "tool", name: named.function.name };
  }
  if (out && out.type !== "none" && parallel === false) out.disable_parallel_tool_use = true;
  return out;
}

function blocksOf(m: ChatMessage): ContentBlock[] {
  if (m.role === "tool") {
    if (!m.tool_call_id) throw invalidRequest("A tool message needs tool_call_id", "messages");
    return [{ type: "tool_result", tool_use_id: m.tool_call_id, content: textOf(m.content, "messages") }];
  }
  if (m.role === "function") {
    throw invalidRequest("Legacy 'function' messages are not supported by Anthropic models; use tool", "messages");
  }
  const blocks: ContentBlock[] = [];
  if (typeof m.content === "string") {
    if (m.content !== "") blocks.push({ type: "text", text: m.content });
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
      // Anthropic rejects empty text blocks; an empty part carries nothing anyway.
      return part.text ? [{ type: "text", text: part.text }] : [];
    case "refusal":
      return part.refusal ? [{ type: "text", text: part.refusal }] : [];
    case "image_url": {
      const url = typeof part.image_url === "string" ? part.image_url : part.image_url?.url;
      return [{ type: "image", source: imageSource(url) }];
    }
    default:
      throw invalidRequest(`Content part type '${part.type}' is not supported by Anthropic models`, "messages");
  }
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageSource(url: string | undefined): ImageSource {
  if (url) {
    const data = DATA_URL.exec(url);
    if (data) return { type: "base64", media_type: data[1] as string, data: data[2] as string };
    if (/^https?:\/\//i.test(url)) return { type: "url", url };
  }
  throw invalidRequest("image_url must be a base64 data URL or an http(s) URL", "messages");
}

function toolUseOf(call: ToolCall): ContentBlock {
  const name = call.function?.name;
  if (!call.id || !name) throw invalidRequest("An assistant tool call needs an id and a function name", "messages");
  const args = call.function?.arguments ?? "";
  let input: unknown = {};
  try {
    if (args.trim() !== "") input = JSON.parse(args);
  } catch {
    throw invalidRequest(`The arguments of tool call '${call.id}' are not valid JSON`, "messages");
  }
  return { type: "tool_use", id: call.id, name, input };
}

/** Text of a string or text-part content; Anthropic's system prompt and tool results here are plain text. */
function textOf(content: ChatMessage["content"], param: string): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return (content as Part[])
    .map((p) => {
      if (p.type !== "text") throw invalidRequest(`Only text parts are supported here, not '${p.type}'`, param);
      return p.text ?? "";
    })
    .join("");
}
