import type { ChatCompletion, ChatCompletionChoice } from "./entry.js";

export interface ReplayOptions {
  /** Send the closing usage chunk (the request's stream_options.include_usage). */
  includeUsage: boolean;
  /** The model name to show instead of the stored one (e.g. the alias this request asked for). */
  requestModel?: string;
  /** Characters of content, refusal or tool arguments per chunk; default 20, so incremental renderers still render. */
  pieceChars?: number;
}

const DONE = "data: [DONE]\n\n";
const REPLAYED_MESSAGE_FIELDS: ReadonlySet<string> = new Set(["role", "content", "refusal", "tool_calls"]);
/** What follows the delta of every chunk but a choice's last. */
const OPEN_TAIL = ',"logprobs":null,"finish_reason":null}]}\n\n';

/**
 * A cached chat.completion as the SSE text an OpenAI stream would have carried: per choice a role chunk, the
 * content (or refusal) in small pieces, each tool call (id, type and name first, then its arguments in pieces),
 * a closing chunk with the finish_reason (and the logprobs, whole), then the usage chunk if asked, and [DONE].
 * Every chunk shares id, created and model. The openai SDK reassembles it into the original answer (tested).
 */
export function replayAsSse(completion: ChatCompletion, opts: ReplayOptions): string {
  const size = Math.max(1, opts.pieceChars ?? 20);
  const head = chunkHead(completion, opts.requestModel);
  let out = "";
  for (const choice of completion.choices) {
    const at = `${head}"choices":[{"index":${choice.index},"delta":`;
    const message = choice.message;
    out += `${at}{"role":"assistant","content":${message.content === null ? "null" : '""'},"refusal":null}${OPEN_TAIL}`;
    for (const piece of pieces(message.content, size)) out += `${at}{"content":${JSON.stringify(piece)}}${OPEN_TAIL}`;
    for (const piece of pieces(message.refusal, size)) out += `${at}{"refusal":${JSON.stringify(piece)}}${OPEN_TAIL}`;
    const calls = message.tool_calls ?? [];
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i];
      if (call === undefined) continue;
      const opening = { index: i, id: call.id, type: call.type, function: { name: call.function.name, arguments: "" } };
      out += `${at}{"tool_calls":[${JSON.stringify(opening)}]}${OPEN_TAIL}`;
      for (const piece of pieces(call.function.arguments, size)) {
        out += `${at}{"tool_calls":[{"index":${i},"function":{"arguments":${JSON.stringify(piece)}}}]}${OPEN_TAIL}`;
      }
    }
    out += `${at}{}${closingTail(choice)}`;
  }
  if (opts.includeUsage && completion.usage !== undefined) {
    out += `${head}"choices":[],"usage":${JSON.stringify(completion.usage)}}\n\n`;
  }
  return out + DONE;
}

/**
 * Whether replayAsSse carries all of this answer: a message holding more than content, refusal and function tool
 * calls (audio, a legacy function_call, annotations) would lose it in a replayed stream. Check a non-stream
 * answer with this before storing it (a stream rebuilt by StreamAccumulator already passed the same test).
 */
export function isReplayable(completion: ChatCompletion): boolean {
  if (!Array.isArray(completion.choices) || completion.choices.length === 0) return false;
  for (const choice of completion.choices) {
    const message = choice.message as unknown as Record<string, unknown> | undefined;
    if (message === undefined || message === null || typeof message !== "object") return false;
    for (const field in message) {
      const value = message[field];
      if (REPLAYED_MESSAGE_FIELDS.has(field) || value === null || value === undefined) continue;
      if (Array.isArray(value) && value.length === 0) continue;
      return false;
    }
    for (const call of choice.message.tool_calls ?? []) if (call.type !== "function") return false;
  }
  return true;
}

/** The non-stream answer, byte for byte the stored form unless the model name is replaced. */
export function replayAsJson(completion: ChatCompletion, opts: { requestModel?: string } = {}): string {
  if (opts.requestModel === undefined || opts.requestModel === completion.model) return JSON.stringify(completion);
  return JSON.stringify({ ...completion, model: opts.requestModel });
}

/** `data: {` and the members every chunk of this answer shares, up to `"choices":`. */
function chunkHead(completion: ChatCompletion, requestModel: string | undefined): string {
  let head = `data: {"id":${JSON.stringify(completion.id)},"object":"chat.completion.chunk","created":${completion.created},"model":${JSON.stringify(requestModel ?? completion.model)},`;
  if (completion.system_fingerprint != null) {
    head += `"system_fingerprint":${JSON.stringify(completion.system_fingerprint)},`;
  }
  if (completion.service_tier != null) head += `"service_tier":${JSON.stringify(completion.service_tier)},`;
  return head;
}

function closingTail(choice: ChatCompletionChoice): string {
  return `,"logprobs":${JSON.stringify(choice.logprobs ?? null)},"finish_reason":${JSON.stringify(choice.finish_reason)}}]}\n\n`;
}

/** `text` cut into pieces of about `size` characters, never between the two halves of a surrogate pair. */
function pieces(text: string | null | undefined, size: number): string[] {
  if (!text) return [];
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end++;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}
