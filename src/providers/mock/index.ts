import { createHash } from "node:crypto";
import type { ProviderType } from "../../config/schema.js";
import type { ChatCompletionRequest, ChatMessage, EmbeddingsRequest, Usage } from "../../openai/schema.js";
import { DONE_FRAME, sseDataFrame } from "../../openai/sse.js";
import type {
  ChatCall,
  EmbeddingsCall,
  ProviderClient,
  ProviderFactory,
  RelayStream,
  StreamOutcome,
  UpstreamResult,
} from "../types.js";

/**
 * An in-process provider for trying Tollgate without any key: deterministic answers in OpenAI's format.
 * Not used by the tests or the bench, which talk to mock upstreams over real HTTP.
 */
class MockClient implements ProviderClient {
  readonly type: ProviderType = "mock";
  constructor(readonly name: string) {}

  async chat(call: ChatCall): Promise<UpstreamResult> {
    const { request, upstreamModel, observer } = call;
    observer.onFirstByte();
    const toolCall = pickToolCall(request);
    const text = toolCall ? null : replyFor(request.messages);
    const words = text ? text.split(" ") : [];
    const usage = usageOf(request, toolCall ? 5 : words.length);
    const id = `chatcmpl-mock-${call.requestId}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = toolCall ? "tool_calls" : "stop";
    observer.onUsage(usage);

    if (!call.stream) {
      const message = toolCall
        ? { role: "assistant", content: null, tool_calls: [toolCall] }
        : { role: "assistant", content: text };
      const body = JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model: upstreamModel,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage,
      });
      return { status: 200, body, stream: false, headers: undefined };
    }

    const chunk = (delta: object, finishReason: string | null, extra?: object) =>
      sseDataFrame(
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: upstreamModel,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
          ...extra,
        }),
      );
    const frames: Uint8Array[] = [chunk({ role: "assistant", content: toolCall ? null : "" }, null)];
    if (toolCall) frames.push(chunk({ tool_calls: [{ index: 0, ...toolCall }] }, null));
    words.forEach((w, i) => {
      frames.push(chunk({ content: i === 0 ? w : ` ${w}` }, null));
    });
    frames.push(chunk({}, finish));
    if (request.stream_options?.include_usage) {
      frames.push(
        sseDataFrame(
          JSON.stringify({
            id,
            object: "chat.completion.chunk",
            created,
            model: upstreamModel,
            choices: [],
            usage: { ...usage, cost: observer.costOf(usage) },
          }),
        ),
      );
    }
    frames.push(DONE_FRAME);
    const body = new FrameRelay(frames, observer);
    return { status: 200, body, stream: true, headers: undefined };
  }

  async embeddings(call: EmbeddingsCall): Promise<UpstreamResult> {
    const { request, upstreamModel, observer } = call;
    observer.onFirstByte();
    const inputs = embeddingInputs(request);
    const dims = request.dimensions ?? 16;
    const data = inputs.map((input, index) => {
      const vector = deterministicVector(input, dims);
      const embedding =
        request.encoding_format === "base64" ? Buffer.from(vector.buffer).toString("base64") : Array.from(vector);
      return { object: "embedding", index, embedding };
    });
    const promptTokens = inputs.reduce((n, s) => n + countWords(s), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens };
    observer.onUsage(usage);
    const body = JSON.stringify({
      object: "list",
      data,
      model: upstreamModel,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
    return { status: 200, body, stream: false, headers: undefined };
  }

  async close(): Promise<void> {}
}

/** Replays prepared frames. */
class FrameRelay implements RelayStream {
  private ended = false;
  constructor(
    readonly chunks: Uint8Array[],
    private readonly observer: ChatCall["observer"],
  ) {}

  onChunk(chunk: Uint8Array): Uint8Array {
    return chunk;
  }

  onEnd(): undefined {
    this.end("completed");
    return undefined;
  }

  onError(): Uint8Array {
    this.end("upstream_error");
    return DONE_FRAME;
  }

  cancel(): void {
    this.end("client_abort");
  }

  private end(outcome: StreamOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.observer.onStreamEnd(outcome);
  }
}

function replyFor(messages: ChatMessage[]): string {
  const last = [...messages].reverse().find((m) => m.role === "user" || m.role === "tool");
  const said = last ? textOf(last).trim() : "";
  return said ? `Mock reply to: ${said}` : "Mock reply.";
}

function textOf(message: ChatMessage): string {
  const c = message.content;
  if (typeof c === "string") return c;
  if (!Array.isArray(c)) return "";
  return c.map((p) => (typeof p.text === "string" ? p.text : "")).join(" ");
}

function pickToolCall(request: ChatCompletionRequest) {
  const tools = request.tools;
  const last = request.messages[request.messages.length - 1];
  if (!tools?.length || request.tool_choice === "none" || last?.role === "tool") return undefined;
  const named = (request.tool_choice as { function?: { name?: string } } | undefined)?.function?.name;
  const name = named ?? tools[0]?.function?.name ?? "tool";
  return { id: `call_mock_${name}`, type: "function" as const, function: { name, arguments: "{}" } };
}

function usageOf(request: ChatCompletionRequest, completionTokens: number): Usage {
  const promptTokens = request.messages.reduce((n, m) => n + countWords(textOf(m)) + 3, 3);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

const countWords = (s: string) => (s.trim() ? s.trim().split(/\s+/).length : 0);

function embeddingInputs(request: EmbeddingsRequest): string[] {
  const input = request.input;
  if (typeof input === "string") return [input];
  return (input as unknown[]).map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
}

function deterministicVector(input: string, dims: number): Float32Array {
  const out = new Float32Array(dims);
  let seed = createHash("sha256").update(input).digest();
  for (let i = 0; i < dims; i++) {
    if (i % 32 === 0 && i > 0) seed = createHash("sha256").update(seed).digest();
    out[i] = ((seed[i % 32] as number) - 127.5) / 127.5;
  }
  return out;
}

export const mockProvider: ProviderFactory = { create: (name) => new MockClient(name) };
