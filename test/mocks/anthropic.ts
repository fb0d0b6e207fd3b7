import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake Anthropic Messages API over real HTTP, speaking its wire format (checked with the official
 * @anthropic-ai/sdk in test/e2e/anthropic.test.ts). POST /v1/messages only; anthropic-version and a key are
 * required: `x-api-key`, or `Authorization: Bearer` as @anthropic-ai/sdk 1.x sends it. Behaviour is chosen by the model name:
 *   claude-400 / claude-401 / claude-403 / claude-404 / claude-413 / claude-429 / claude-500 / claude-529
 *                        that HTTP error in Anthropic's shape (429 with retry-after: 7, 529 overloaded)
 *   claude-stream-error  a stream that starts, then sends an overloaded `error` event
 *   anything else        a deterministic answer:
 *     tools given (tool_choice not none) and no tool result yet -> text plus a get_weather-style tool_use
 *     a tool_result in the last turn                            -> "The weather in Paris is sunny."
 *     otherwise "Hello from Claude. The end." cut at a matching stop sequence, or at max_tokens words
 */
export interface RecordedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface AnthropicMock {
  /** The origin: what the Anthropic SDK takes as baseURL and Tollgate as base_url. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const MOCK_TEXT = "Hello from Claude. The end.";
export const MOCK_USAGE = {
  input_tokens: 11,
  output_tokens: 7,
  cache_read_input_tokens: 4,
  cache_creation_input_tokens: 2,
};

const ERRORS: Record<number, [string, string]> = {
  400: ["invalid_request_error", "messages: field required"],
  401: ["authentication_error", "invalid x-api-key"],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "model: claude-404"],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"],
  500: ["api_error", "Internal server error"],
  529: ["overloaded_error", "Overloaded"],
};

export async function startAnthropicMock(): Promise<AnthropicMock> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return sendError(res, 400, "invalid_request_error", "There was an issue with the format of your request");
      }
      requests.push({ path: req.url ?? "", headers: req.headers, body });
      route(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function route(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) {
  if (req.method !== "POST" || req.url?.split("?")[0] !== "/v1/messages") {
    return sendError(res, 404, "not_found_error", `Not found: ${req.method} ${req.url}`);
  }
  if (!req.headers["x-api-key"] && !req.headers.authorization?.startsWith("Bearer ")) {
    return sendError(res, 401, "authentication_error", "x-api-key header is required");
  }
  if (!req.headers["anthropic-version"]) {
    return sendError(res, 400, "invalid_request_error", "anthropic-version: header is required");
  }
  const model = String(body.model ?? "");
  const status = Number(/^claude-(\d{3})$/.exec(model)?.[1]);
  const known = ERRORS[status];
  if (known) {
    if (status === 429) res.setHeader("retry-after", "7");
    return sendError(res, status, known[0], known[1]);
  }
  if (typeof body.max_tokens !== "number")
    return sendError(res, 400, "invalid_request_error", "max_tokens: Field required");
  const content = answerFor(body);
  if (body.stream === true) return stream(res, model, content);
  sendJson(res, 200, {
    id: "msg_mock_01",
    type: "message",
    role: "assistant",
    model,
    content: content.blocks,
    container: null,
    stop_details: null,
    stop_reason: content.stopReason,
    stop_sequence: content.stopSequence,
    usage: { ...MOCK_USAGE },
  });
}

type Block = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: unknown };
interface Answer {
  blocks: Block[];
  stopReason: string;
  stopSequence: string | null;
}

function answerFor(body: Record<string, unknown>): Answer {
  const tools = body.tools as { name: string }[] | undefined;
  const messages = (body.messages as { role: string; content: unknown }[]) ?? [];
  const lastContent = messages.at(-1)?.content;
  const hasResult = Array.isArray(lastContent) && lastContent.some((b: { type?: string }) => b.type === "tool_result");
  const choice = body.tool_choice as { type?: string } | undefined;
  if (tools?.length && choice?.type !== "none" && !hasResult) {
    const name = (tools[0] as { name: string }).name;
    return {
      blocks: [
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "toolu_mock_01", name, input: { city: "Paris" } },
      ],
      stopReason: "tool_use",
      stopSequence: null,
    };
  }
  if (hasResult) {
    return {
      blocks: [{ type: "text", text: "The weather in Paris is sunny." }],
      stopReason: "end_turn",
      stopSequence: null,
    };
  }
  let text = MOCK_TEXT;
  for (const s of (body.stop_sequences as string[] | undefined) ?? []) {
    const at = text.indexOf(s);
    if (at !== -1)
      return { blocks: [{ type: "text", text: text.slice(0, at) }], stopReason: "stop_sequence", stopSequence: s };
  }
  const words = text.split(" ");
  if ((body.max_tokens as number) < words.length) {
    text = words.slice(0, body.max_tokens as number).join(" ");
    return { blocks: [{ type: "text", text }], stopReason: "max_tokens", stopSequence: null };
  }
  return { blocks: [{ type: "text", text }], stopReason: "end_turn", stopSequence: null };
}

function stream(res: ServerResponse, model: string, answer: Answer): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  const send = (event: string, data: object) =>
    res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  const { output_tokens: _out, ...inputUsage } = MOCK_USAGE;
  send("message_start", {
    message: {
      id: "msg_mock_01",
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...inputUsage, output_tokens: 1 },
    },
  });
  send("ping", {});
  answer.blocks.forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { index, content_block: { type: "text", text: "" } });
      // Each word its own delta, as tokens come.
      for (const piece of block.text.split(/(?<= )/)) {
        send("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
      }
      if (model === "claude-stream-error") {
        // A moment later, as a real mid-stream failure comes: its own read, after the text.
        const error = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
        setTimeout(() => res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`), 20);
        return;
      }
    } else {
      send("content_block_start", {
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      });
      const json = JSON.stringify(block.input);
      const cut = Math.floor(json.length / 2);
      for (const partial of ["", json.slice(0, cut), json.slice(cut)]) {
        send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: partial } });
      }
    }
    send("content_block_stop", { index });
  });
  if (model === "claude-stream-error") return;
  send("message_delta", {
    delta: { stop_reason: answer.stopReason, stop_sequence: answer.stopSequence },
    usage: { output_tokens: MOCK_USAGE.output_tokens },
  });
  send("message_stop", {});
  res.end();
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { type: "error", error: { type, message } });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "request-id": "req_mock_01",
  });
  res.end(text);
}
