import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake Gemini API (v1beta generateContent) over real HTTP, in Gemini's wire format (checked with the official
 * @google/genai SDK in test/e2e/gemini.test.ts). Behaviour is chosen by the model in the path:
 *   gemini-429 / -400 / -401 / -403 / -500 / -503   that HTTP error in Gemini's `{error: {code, message, status}}`
 *   gemini-blocked                               promptFeedback.blockReason SAFETY, no candidates
 *   gemini-thinking                              usage with thoughtsTokenCount and cachedContentTokenCount
 *   gemini-stream-error                          streams one chunk, then an error event
 *   anything else                                a deterministic answer, or a functionCall when tools are given
 * The answer honours maxOutputTokens (one word per token, MAX_TOKENS), stopSequences, JSON mode and images.
 */
export interface GeminiRecordedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface GeminiMock {
  url: string;
  requests: GeminiRecordedRequest[];
  close(): Promise<void>;
}

const ANSWER = "Hello from the mock Gemini upstream.";
const PROMPT_TOKENS = 11;

const ERRORS: Record<string, { code: number; status: string; message: string }> = {
  "gemini-400": { code: 400, status: "INVALID_ARGUMENT", message: "Invalid value at 'generation_config.temperature'" },
  "gemini-401": { code: 401, status: "UNAUTHENTICATED", message: "Request had invalid authentication credentials." },
  "gemini-403": { code: 403, status: "PERMISSION_DENIED", message: "Permission denied on resource project." },
  "gemini-429": { code: 429, status: "RESOURCE_EXHAUSTED", message: "Resource has been exhausted (e.g. check quota)." },
  "gemini-500": { code: 500, status: "INTERNAL", message: "An internal error has occurred." },
  "gemini-503": { code: 503, status: "UNAVAILABLE", message: "The model is overloaded. Please try again later." },
};

export async function startGeminiMock(): Promise<GeminiMock> {
  const requests: GeminiRecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return sendError(res, { code: 400, status: "INVALID_ARGUMENT", message: "Invalid JSON payload received." });
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
  const m = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)(\?alt=sse)?$/.exec(req.url ?? "");
  if (req.method !== "POST" || !m) {
    return sendError(res, { code: 404, status: "NOT_FOUND", message: `Unknown URL ${req.method} ${req.url}` });
  }
  if (!req.headers["x-goog-api-key"]) {
    return sendError(res, {
      code: 403,
      status: "PERMISSION_DENIED",
      message: "Method doesn't allow unregistered callers.",
    });
  }
  const model = decodeURIComponent(m[1] as string);
  const error = ERRORS[model];
  if (error) {
    if (error.code === 429) res.setHeader("retry-after", "7");
    return sendError(res, error);
  }
  if (model === "gemini-blocked") {
    const blocked = {
      promptFeedback: { blockReason: "SAFETY" },
      usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 },
    };
    return m[2] === "generateContent" ? sendJson(res, 200, blocked) : sendSse(res, [blocked]);
  }
  const answer = answerFor(body, model);
  if (m[2] === "generateContent") return sendJson(res, 200, { ...answer.whole, responseId: "resp-mock-1" });
  if (m[3] === undefined) return sendError(res, { code: 400, status: "INVALID_ARGUMENT", message: "expected alt=sse" });
  sendSse(res, answer.chunks, model === "gemini-stream-error");
}

interface Answer {
  whole: object;
  chunks: object[];
}

type Content = { role: string; parts: Record<string, unknown>[] };

function answerFor(body: Record<string, unknown>, model: string): Answer {
  const contents = (body.contents ?? []) as Content[];
  const config = (body.generationConfig ?? {}) as Record<string, unknown>;
  const lastParts = contents.at(-1)?.parts ?? [];
  const tools = body.tools as { functionDeclarations: { name: string }[] }[] | undefined;
  const callingConfig = (
    body.toolConfig as { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } }
  )?.functionCallingConfig;
  const usage = (output: number) => ({
    promptTokenCount: PROMPT_TOKENS,
    candidatesTokenCount: output,
    totalTokenCount: PROMPT_TOKENS + output + (model === "gemini-thinking" ? 5 : 0),
    ...(model === "gemini-thinking" ? { thoughtsTokenCount: 5, cachedContentTokenCount: 4 } : {}),
  });
  const base = { modelVersion: model };

  const answered = lastParts.some((p) => p.functionResponse);
  if (tools?.length && !answered && callingConfig?.mode !== "NONE") {
    const name = callingConfig?.allowedFunctionNames?.[0] ?? tools[0]?.functionDeclarations[0]?.name ?? "f";
    const candidate = {
      content: { role: "model", parts: [{ functionCall: { name, args: { city: "Paris" } } }] },
      finishReason: "STOP",
      index: 0,
    };
    const whole = { ...base, candidates: [candidate], usageMetadata: usage(6) };
    return { whole, chunks: [{ ...whole, responseId: "resp-mock-1" }] };
  }

  let text = ANSWER;
  if (answered) {
    const result = lastParts.find((p) => p.functionResponse)?.functionResponse as { response: unknown };
    text = `The tool said ${JSON.stringify(result.response)}.`;
  } else if (config.responseMimeType === "application/json") text = '{"answer": "Hello"}';
  else if (lastParts.some((p) => p.inlineData || p.fileData)) {
    const media = lastParts.map((p) => (p.inlineData ?? p.fileData) as { mimeType: string } | undefined);
    text = `I see an image of type ${media.find((x) => x)?.mimeType}.`;
  }
  let finish = "STOP";
  for (const stop of (config.stopSequences ?? []) as string[]) {
    const at = text.indexOf(stop);
    if (at !== -1) text = text.slice(0, at);
  }
  let words = text.split(/(?<= )/);
  const max = config.maxOutputTokens as number | undefined;
  if (max !== undefined && words.length > max) {
    words = words.slice(0, max);
    finish = "MAX_TOKENS";
  }
  const count = Math.max(1, Number(config.candidateCount ?? 1));
  const candidate = (parts: object[], finishReason: string | undefined, index: number) => ({
    content: { role: "model", parts },
    ...(finishReason ? { finishReason } : {}),
    index,
  });
  const all = (parts: object[], finishReason?: string) =>
    Array.from({ length: count }, (_, i) => candidate(parts, finishReason, i));
  const thought = model === "gemini-thinking" ? [{ text: "Let me think.", thought: true }] : [];
  const whole = {
    ...base,
    candidates: all([...thought, { text: words.join("") }], finish),
    usageMetadata: usage(words.length),
  };
  // As Gemini streams: a word per chunk, the running usage on each, finishReason on the last.
  const chunks = words.map((word, i) => {
    const lastOne = i === words.length - 1;
    return {
      ...base,
      responseId: "resp-mock-1",
      candidates: all([{ text: word }], lastOne ? finish : undefined),
      usageMetadata: lastOne
        ? usage(words.length)
        : { promptTokenCount: PROMPT_TOKENS, totalTokenCount: PROMPT_TOKENS },
    };
  });
  return { whole, chunks };
}

function sendSse(res: ServerResponse, chunks: object[], failAfterFirst = false): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  // Gemini separates its events with CRLF pairs; each is its own write, as tokens come.
  if (failAfterFirst) {
    // A failure some time into the answer: the first chunk, then (a moment later) an error event.
    res.write(`data: ${JSON.stringify(chunks[0])}\r\n\r\n`);
    const error = { error: { code: 500, message: "Stream interrupted.", status: "INTERNAL" } };
    setTimeout(() => res.end(`data: ${JSON.stringify(error)}\r\n\r\n`), 30);
    return;
  }
  for (const chunk of chunks) res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
  res.end();
}

function sendError(res: ServerResponse, error: { code: number; status: string; message: string }): void {
  sendJson(res, error.code, { error });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
