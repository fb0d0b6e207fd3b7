import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";

/** What the counting upstream answers: a fixed completion of this many tokens. */
export const COUNTING_COMPLETION_TOKENS = 5;

const o200kBase = new Tiktoken(o200k);

/**
 * OpenAI's cookbook accounting for gpt-4o-family chat prompts ("How to count tokens with tiktoken"): 3 tokens per
 * message, 1 more per `name`, every string field's tokens, and 3 priming the reply. Written here independently of
 * src/tokens so the gateway's count is checked against it, not against itself.
 */
export function cookbookPromptTokens(messages: readonly Record<string, string>[]): number {
  let n = 3;
  for (const message of messages) {
    n += 3;
    for (const [key, value] of Object.entries(message)) {
      n += o200kBase.encode(value).length;
      if (key === "name") n += 1;
    }
  }
  return n;
}

export interface CountingUpstream {
  /** base_url for an `openai` provider. */
  url: string;
  close(): Promise<void>;
}

/** An OpenAI-shaped upstream whose usage reports the real prompt token count, as OpenAI's own would. */
export async function startCountingUpstream(): Promise<CountingUpstream> {
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as {
        model: string;
        messages: Record<string, string>[];
      };
      const prompt = cookbookPromptTokens(body.messages);
      const text = JSON.stringify({
        id: "chatcmpl-counting",
        object: "chat.completion",
        created: 1_700_000_000,
        model: body.model,
        choices: [
          { index: 0, message: { role: "assistant", content: "one two three four five" }, finish_reason: "stop" },
        ],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: COUNTING_COMPLETION_TOKENS,
          total_tokens: prompt + COUNTING_COMPLETION_TOKENS,
        },
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
