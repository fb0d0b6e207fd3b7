import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake OpenAI upstream over real HTTP, speaking OpenAI's wire format (checked with the official SDK in
 * test/e2e/mock-openai.test.ts). Behaviour is chosen by the upstream model name, so tests steer it through
 * routes.yaml aliases:
 *   mock-429 / mock-500 / mock-400   that HTTP error in OpenAI's error shape
 *   mock-text-error                  a 502 with a non-JSON body
 *   mock-slow-stream[-N]             a chunk every 20 ms, N of them (default 500; for aborts and shutdown)
 *   mock-cut-stream                  3 chunks, then the connection is destroyed
 *   mock-hang                        never answers
 *   anything else                    a deterministic answer; a tool call when tools are given
 * Azure OpenAI's paths work too: the deployment in the path stands for the model name.
 */
export interface RecordedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  /** Set when the client (the gateway) closed the connection before the answer was complete. */
  aborted: boolean;
  completed: boolean;
}

export interface OpenAIMockOptions {
  port?: number;
  /** Content chunks per streamed answer. */
  chunks?: number;
  /** Keep a log of requests (off for the bench). */
  record?: boolean;
}

export interface OpenAIMock {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
  /** Resolves when the request number `index` (0-based) has ended, aborted or completed. */
  ended(index: number): Promise<RecordedRequest>;
}

const CREATED = 1_700_000_000;

export async function startOpenAIMock(options: OpenAIMockOptions = {}): Promise<OpenAIMock> {
  const chunks = options.chunks ?? 20;
  const record = options.record ?? true;
  const requests: RecordedRequest[] = [];
  const endWaiters = new Map<number, (r: RecordedRequest) => void>();

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return sendJson(
          res,
          400,
          errorBody("We could not parse the JSON body of your request.", "invalid_request_error"),
        );
      }
      const entry: RecordedRequest = {
        path: req.url ?? "",
        headers: req.headers,
        body,
        aborted: false,
        completed: false,
      };
      const index = requests.length;
      if (record) requests.push(entry);
      res.on("close", () => {
        if (!res.writableFinished) entry.aborted = true;
        else entry.completed = true;
        endWaiters.get(index)?.(entry);
      });
      route(req, res, body, chunks);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    ended(index) {
      const r = requests[index];
      if (r && (r.aborted || r.completed)) return Promise.resolve(r);
      return new Promise((resolve) => endWaiters.set(index, resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function route(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, chunks: number) {
  // Azure OpenAI names the deployment in the path (/openai/deployments/{name}/...?api-version=...).
  const path = (req.url ?? "").split("?")[0] as string;
  const deployment = /\/deployments\/([^/]+)\//.exec(path)?.[1];
  const model = deployment ? decodeURIComponent(deployment) : String(body.model ?? "");
  if (req.method !== "POST") {
    sendJson(res, 404, errorBody(`Unknown request URL: ${req.method} ${req.url}`));
    return;
  }
  switch (model) {
    case "mock-429":
      res.setHeader("retry-after", "7");
      return sendJson(res, 429, errorBody("Rate limit reached for requests", "requests", "rate_limit_exceeded"));
    case "mock-500":
      return sendJson(res, 500, errorBody("The server had an error while processing your request.", "server_error"));
    case "mock-400":
      return sendJson(res, 400, {
        error: { message: "Invalid 'temperature'", type: "invalid_request_error", param: "temperature", code: null },
      });
    case "mock-text-error":
      res.writeHead(502, { "content-type": "text/html" });
      return void res.end("<html>Bad Gateway</html>");
    case "mock-hang":
      return;
  }
  if (path.endsWith("/embeddings")) return embeddings(res, body);
  if (!path.endsWith("/chat/completions")) return sendJson(res, 404, errorBody(`Unknown request URL: POST ${req.url}`));
  if (body.stream === true) return stream(res, body, model, chunks);
  return completion(res, body, model);
}

function completion(res: ServerResponse, body: Record<string, unknown>, model: string): void {
  const toolCall = toolCallFor(body);
  const message = toolCall
    ? { role: "assistant", content: null, tool_calls: [toolCall], refusal: null }
    : { role: "assistant", content: "Hello from the mock upstream.", refusal: null };
  sendJson(res, 200, {
    id: "chatcmpl-mock",
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: toolCall ? "tool_calls" : "stop" }],
    usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
    system_fingerprint: "fp_mock",
  });
}

function stream(res: ServerResponse, body: Record<string, unknown>, model: string, chunks: number): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const event = (fields: object) =>
    `data: ${JSON.stringify({ id: "chatcmpl-mock", object: "chat.completion.chunk", created: CREATED, model, system_fingerprint: "fp_mock", ...fields })}\n\n`;
  const frame = (delta: object, finish: string | null) =>
    event({
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const toolCall = toolCallFor(body);
  const frames: string[] = [frame({ role: "assistant", content: toolCall ? null : "", refusal: null }, null)];
  if (toolCall) {
    frames.push(
      frame(
        {
          tool_calls: [
            { index: 0, id: toolCall.id, type: "function", function: { name: toolCall.function.name, arguments: "" } },
          ],
        },
        null,
      ),
      frame({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, null),
      frame({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, null),
    );
  } else {
    const count = model.startsWith("mock-slow-stream") ? Number(model.split("-")[3] ?? 500) : chunks;
    for (let i = 0; i < count; i++) frames.push(frame({ content: `tok${i} ` }, null));
  }
  frames.push(frame({}, toolCall ? "tool_calls" : "stop"));
  if (includeUsage) {
    frames.push(
      event({ choices: [], usage: { prompt_tokens: 11, completion_tokens: chunks, total_tokens: 11 + chunks } }),
    );
  }
  frames.push("data: [DONE]\n\n");

  if (model.startsWith("mock-slow-stream") || model === "mock-cut-stream") {
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      if (model === "mock-cut-stream" && i === 3) {
        clearInterval(timer);
        return void res.socket?.destroy();
      }
      const f = frames[i++];
      if (f === undefined) {
        clearInterval(timer);
        return void res.end();
      }
      res.write(f);
    }, 20);
    res.on("close", () => clearInterval(timer));
    return;
  }
  // Each frame is its own write, as a real upstream sends tokens as they come.
  for (const f of frames) res.write(f);
  res.end();
}

function embeddings(res: ServerResponse, body: Record<string, unknown>): void {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vector = [0.1, 0.2, 0.3, 0.4];
  const data = inputs.map((_input, index) => ({
    object: "embedding",
    index,
    embedding:
      body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector,
  }));
  sendJson(res, 200, { object: "list", data, model: body.model, usage: { prompt_tokens: 5, total_tokens: 5 } });
}

function toolCallFor(body: Record<string, unknown>) {
  const tools = body.tools as { function: { name: string } }[] | undefined;
  const messages = body.messages as { role: string }[] | undefined;
  if (!tools?.length || body.tool_choice === "none" || messages?.at(-1)?.role === "tool") return undefined;
  const name = (tools[0] as { function: { name: string } }).function.name;
  return { id: "call_mock_1", type: "function" as const, function: { name, arguments: '{"city":"Paris"}' } };
}

function errorBody(message: string, type = "invalid_request_error", code: string | null = null) {
  return { error: { message, type, param: null, code } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
