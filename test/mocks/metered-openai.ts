import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatCompletionRequest } from "../../src/openai/schema.js";
import { countPromptTokens } from "../../src/tokens/index.js";

/**
 * A fake OpenAI chat upstream whose usage follows the request, for budget tests: prompt_tokens is the
 * tiktoken count of the messages (what the gateway itself counts before the call) and completion_tokens is
 * max_tokens (default 16). So every answer costs exactly the maximum the gateway reserved for it.
 * Non-streaming only; `delayMs` holds each answer, so concurrent requests really overlap.
 */
export interface MeteredMock {
  url: string;
  /** Chat requests answered. */
  served(): number;
  close(): Promise<void>;
}

export async function startMeteredMock(options: { delayMs?: number } = {}): Promise<MeteredMock> {
  const delayMs = options.delayMs ?? 0;
  let served = 0;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as ChatCompletionRequest & {
        max_tokens?: number;
        max_completion_tokens?: number;
      };
      if (!(req.url ?? "").endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
      }
      const prompt = countPromptTokens(body, body.model).tokens;
      const completion = body.max_completion_tokens ?? body.max_tokens ?? 16;
      const answer = JSON.stringify({
        id: `chatcmpl-metered-${served}`,
        object: "chat.completion",
        created: 1_700_000_000,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "ok ".repeat(8), refusal: null },
            logprobs: null,
            finish_reason: "length",
          },
        ],
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      });
      const send = () => {
        served++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(answer);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
