import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";

/**
 * A fake Bedrock runtime over real HTTP, speaking the Converse wire format (checked with the official
 * @aws-sdk/client-bedrock-runtime in test/e2e/bedrock.test.ts): POST /model/{modelId}/converse answers JSON,
 * POST /model/{modelId}/converse-stream answers AWS's binary event stream. Any SigV4 Authorization header is
 * accepted and recorded. Behaviour is chosen by the modelId:
 *   bedrock-400 / -403 / -404 / -429 / -500 / -503   that HTTP error, x-amzn-errortype set (429 with retry-after: 7)
 *   bedrock-stream-error    a stream that starts, then sends a throttlingException exception event
 *   bedrock-slow            a stream that sends two deltas, then nothing for 5 s (to test a client going away)
 *   anything else           a deterministic answer:
 *     tools given and no tool result yet -> text plus a toolUse of the first tool
 *     a toolResult in the last turn      -> "The weather in Paris is sunny."
 *     otherwise "Hello from Bedrock. The end." cut at a matching stop sequence, or at maxTokens words
 */
export interface RecordedRequest {
  path: string;
  modelId: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface BedrockMock {
  /** The origin: what the SDK takes as endpoint and Tollgate as base_url. */
  url: string;
  requests: RecordedRequest[];
  /** How many streams the other side closed before they finished. */
  aborted(): number;
  close(): Promise<void>;
}

export const MOCK_TEXT = "Hello from Bedrock. The end.";
export const MOCK_USAGE = { inputTokens: 11, outputTokens: 7, totalTokens: 22, cacheReadInputTokens: 4 };
export const REQUEST_ID = "req-mock-0001";

const ERRORS: Record<number, [string, string]> = {
  400: ["ValidationException", "The provided model identifier is invalid."],
  403: ["AccessDeniedException", "You don't have access to the model with the specified model ID."],
  404: ["ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."],
  429: ["ThrottlingException", "Too many requests, please wait before trying again."],
  500: ["InternalServerException", "The server encountered an internal error."],
  503: ["ServiceUnavailableException", "The service is temporarily unavailable."],
};

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export async function startBedrockMock(): Promise<BedrockMock> {
  const requests: RecordedRequest[] = [];
  let aborted = 0;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return sendError(res, 400, "SerializationException", "Could not parse the request body");
      }
      const match = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url?.split("?")[0] ?? "");
      const modelId = match ? decodeURIComponent(match[1] as string) : "";
      requests.push({ path: req.url ?? "", modelId, headers: req.headers, body });
      if (req.method !== "POST" || !match) return sendError(res, 404, "UnknownOperationException", "Not found");
      if (!req.headers.authorization?.startsWith("AWS4-HMAC-SHA256 ")) {
        return sendError(res, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
      }
      res.on("close", () => {
        if (!res.writableFinished) aborted++;
      });
      route(res, modelId, match[2] === "converse-stream", body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    aborted: () => aborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function route(res: ServerResponse, modelId: string, streaming: boolean, body: Record<string, unknown>) {
  const status = Number(/^bedrock-(\d{3})$/.exec(modelId)?.[1]);
  const known = ERRORS[status];
  if (known) {
    if (status === 429) res.setHeader("retry-after", "7");
    return sendError(res, status, known[0], known[1]);
  }
  const answer = answerFor(body);
  if (streaming) return stream(res, modelId, answer);
  sendJson(res, 200, {
    output: { message: { role: "assistant", content: answer.blocks } },
    stopReason: answer.stopReason,
    usage: { ...MOCK_USAGE },
    metrics: { latencyMs: 42 },
  });
}

type Block = { text: string } | { toolUse: { toolUseId: string; name: string; input: unknown } };
interface Answer {
  blocks: Block[];
  stopReason: string;
}

function answerFor(body: Record<string, unknown>): Answer {
  const tools = (body.toolConfig as { tools?: { toolSpec: { name: string } }[] } | undefined)?.tools;
  const messages = (body.messages as { role: string; content: { toolResult?: unknown }[] }[]) ?? [];
  const hasResult = messages.at(-1)?.content.some((b) => b.toolResult !== undefined) ?? false;
  if (tools?.length && !hasResult) {
    const name = (tools[0] as { toolSpec: { name: string } }).toolSpec.name;
    return {
      blocks: [
        { text: "Let me check." },
        { toolUse: { toolUseId: "tooluse_mock_01", name, input: { city: "Paris" } } },
      ],
      stopReason: "tool_use",
    };
  }
  if (hasResult) return { blocks: [{ text: "The weather in Paris is sunny." }], stopReason: "end_turn" };
  const config = (body.inferenceConfig ?? {}) as { maxTokens?: number; stopSequences?: string[] };
  for (const s of config.stopSequences ?? []) {
    const at = MOCK_TEXT.indexOf(s);
    if (at !== -1) return { blocks: [{ text: MOCK_TEXT.slice(0, at) }], stopReason: "stop_sequence" };
  }
  const words = MOCK_TEXT.split(" ");
  if (config.maxTokens !== undefined && config.maxTokens < words.length) {
    return { blocks: [{ text: words.slice(0, config.maxTokens).join(" ") }], stopReason: "max_tokens" };
  }
  return { blocks: [{ text: MOCK_TEXT }], stopReason: "end_turn" };
}

function frame(kind: "event" | "exception", type: string, payload: object): Uint8Array {
  return codec.encode({
    headers: {
      ":message-type": { type: "string", value: kind },
      [kind === "event" ? ":event-type" : ":exception-type"]: { type: "string", value: type },
      ":content-type": { type: "string", value: "application/json" },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

function stream(res: ServerResponse, modelId: string, answer: Answer): void {
  res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": REQUEST_ID });
  const send = (type: string, payload: object) => res.write(frame("event", type, payload));
  send("messageStart", { role: "assistant" });
  if (modelId === "bedrock-slow") {
    // Two deltas, then silence: only an abort from the other side ends it before five seconds.
    for (const text of ["la ", "la "]) send("contentBlockDelta", { contentBlockIndex: 0, delta: { text } });
    const stop = setTimeout(() => res.end(), 5000);
    res.on("close", () => clearTimeout(stop));
    return;
  }
  answer.blocks.forEach((block, contentBlockIndex) => {
    if ("text" in block) {
      // Each word its own delta, as tokens come.
      for (const text of block.text.split(/(?<= )/)) send("contentBlockDelta", { contentBlockIndex, delta: { text } });
      if (modelId === "bedrock-stream-error") return;
    } else {
      const { toolUseId, name, input } = block.toolUse;
      send("contentBlockStart", { contentBlockIndex, start: { toolUse: { toolUseId, name } } });
      const json = JSON.stringify(input);
      const cut = Math.floor(json.length / 2);
      for (const part of [json.slice(0, cut), json.slice(cut)]) {
        send("contentBlockDelta", { contentBlockIndex, delta: { toolUse: { input: part } } });
      }
    }
    send("contentBlockStop", { contentBlockIndex });
  });
  if (modelId === "bedrock-stream-error") {
    // A moment later, as a real mid-stream failure comes: its own read, after the text.
    const exception = frame("exception", "throttlingException", { message: "Too many tokens, please wait." });
    setTimeout(() => res.end(exception), 20);
    return;
  }
  send("messageStop", { stopReason: answer.stopReason });
  send("metadata", { usage: { ...MOCK_USAGE }, metrics: { latencyMs: 42 } });
  res.end();
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.setHeader("x-amzn-errortype", `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`);
  sendJson(res, status, { message });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": REQUEST_ID,
  });
  res.end(text);
}
