import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An OpenAI chat upstream whose faults a test sets while it runs, for routing and resilience tests: a latency,
 * an HTTP error (with retry-after), a stream cut after N chunks. Answers in OpenAI's wire format (JSON, or SSE
 * with a usage chunk), naming itself in the content so a test sees which deployment served.
 */
export interface FaultyBehaviour {
  /** Held before the answer (before the first chunk of a stream). */
  latencyMs: number;
  /** Answer this HTTP error instead, in OpenAI's error shape. */
  failStatus?: number;
  retryAfterS?: number;
  /** OpenAI error code in the error body (e.g. context_length_exceeded). */
  failCode?: string;
  /** Streams: destroy the connection after this many content chunks. */
  cutAfterChunks?: number;
}

export interface FaultyMock {
  url: string;
  name: string;
  behaviour: FaultyBehaviour;
  /** Chat requests received (answered or failed). */
  requests: number;
  close(): Promise<void>;
}

export async function startFaultyMock(name: string, behaviour: Partial<FaultyBehaviour> = {}): Promise<FaultyMock> {
  const mock: FaultyMock = {
    url: "",
    name,
    behaviour: { latencyMs: 0, ...behaviour },
    requests: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      mock.requests++;
      const body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as { model?: string; stream?: boolean };
      const b = mock.behaviour;
      const answer = () => {
        if (b.failStatus !== undefined) {
          const headers: Record<string, string> = { "content-type": "application/json" };
          if (b.retryAfterS !== undefined) headers["retry-after"] = String(b.retryAfterS);
          res.writeHead(b.failStatus, headers);
          res.end(
            JSON.stringify({
              error: { message: `${name} failed`, type: "server_error", param: null, code: b.failCode ?? null },
            }),
          );
          return;
        }
        const model = body.model ?? "gpt-4o-mini";
        const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
        if (!body.stream) {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              id: `chatcmpl-${name}-${mock.requests}`,
              object: "chat.completion",
              created: 1_700_000_000,
              model,
              choices: [
                {
                  index: 0,
                  message: { role: "assistant", content: `from ${name}` },
                  finish_reason: "stop",
                  logprobs: null,
                },
              ],
              usage,
            }),
          );
          return;
        }
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = (delta: object, finish: string | null = null) =>
          `data: ${JSON.stringify({ id: `chatcmpl-${name}`, object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.write(chunk({ role: "assistant", content: "" }));
        const words = ["from", ` ${name}`, " one", " two", " three"];
        let sent = 0;
        const tick = () => {
          if (b.cutAfterChunks !== undefined && sent >= b.cutAfterChunks) return void res.destroy();
          if (sent < words.length) {
            res.write(chunk({ content: words[sent] }));
            sent++;
            return void setTimeout(tick, 5);
          }
          res.write(chunk({}, "stop"));
          res.write(
            `data: ${JSON.stringify({ id: `chatcmpl-${name}`, object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [], usage })}\n\n`,
          );
          res.end("data: [DONE]\n\n");
        };
        tick();
      };
      if (b.latencyMs > 0) setTimeout(answer, b.latencyMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  mock.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  mock.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return mock;
}
