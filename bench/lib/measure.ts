// Measurements: autocannon load runs with per-process CPU, and sequential one-connection timings.
import autocannon, { type Result } from "autocannon";
import { Client } from "undici";
import { cpuMicros, type Proc } from "./procs.js";

export const PATH = "/v1/chat/completions";

const CHAT = {
  model: "bench-chat",
  messages: [
    {
      role: "system",
      content:
        "You are a concise assistant for an online bookshop. Answer in two sentences at most, stay friendly, and never invent prices or stock levels.",
    },
    {
      role: "user",
      content:
        "Can you recommend a short science-fiction novel for a long train journey, and say in one line why it suits a first-time reader of the genre?",
    },
  ],
  temperature: 0.7,
  max_tokens: 256,
};
export const BODY = JSON.stringify(CHAT);
export const STREAM_BODY = JSON.stringify({ ...CHAT, stream: true });

/** One request as sent: path, headers and body (the default is an OpenAI chat completion to PATH). */
export interface Req {
  path: string;
  headers: Record<string, string>;
  body: string;
}

const OPENAI_HEADERS = { "content-type": "application/json", authorization: "Bearer bench-client" };
const [SYSTEM, USER] = CHAT.messages.map((m) => m.content) as [string, string];
/** Provider translation: the same content for every target, as OpenAI, Anthropic and Gemini each take it. */
const TRANSLATION = { temperature: 0.7, maxTokens: 200 };

/** An OpenAI chat completion for `model` (a Tollgate alias, or anything for the OpenAI mock). */
export function openaiReq(model: string, stream: boolean): Req {
  const body = { ...CHAT, model, max_tokens: TRANSLATION.maxTokens, ...(stream ? { stream: true } : {}) };
  return { path: PATH, headers: OPENAI_HEADERS, body: JSON.stringify(body) };
}

/** The same request in Anthropic's Messages API, POST /v1/messages. */
export function anthropicReq(model: string, stream: boolean): Req {
  const body = {
    model,
    max_tokens: TRANSLATION.maxTokens,
    system: SYSTEM,
    messages: [{ role: "user", content: USER }],
    temperature: TRANSLATION.temperature,
    ...(stream ? { stream: true } : {}),
  };
  return {
    path: "/v1/messages",
    headers: { "content-type": "application/json", "x-api-key": "bench-key", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  };
}

/** The same request in Gemini's generateContent (or streamGenerateContent?alt=sse). */
export function geminiReq(model: string, stream: boolean): Req {
  const body = {
    systemInstruction: { parts: [{ text: SYSTEM }] },
    contents: [{ role: "user", parts: [{ text: USER }] }],
    generationConfig: { temperature: TRANSLATION.temperature, maxOutputTokens: TRANSLATION.maxTokens },
  };
  return {
    path: `/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
    headers: { "content-type": "application/json", "x-goog-api-key": "bench-key" },
    body: JSON.stringify(body),
  };
}

/** The same request in Bedrock's Converse API (POST /model/{id}/converse or converse-stream; the mock takes it unsigned). */
export function bedrockReq(model: string, stream: boolean): Req {
  const body = {
    system: [{ text: SYSTEM }],
    messages: [{ role: "user", content: [{ text: USER }] }],
    inferenceConfig: { temperature: TRANSLATION.temperature, maxTokens: TRANSLATION.maxTokens },
  };
  return {
    path: `/model/${encodeURIComponent(model)}/${stream ? "converse-stream" : "converse"}`,
    // The mock checks only that a SigV4 header is there, not the signature.
    headers: {
      "content-type": "application/json",
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261125/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0",
    },
    body: JSON.stringify(body),
  };
}

export interface Target {
  name: string;
  origin: string;
  /** The proxy process in front of the mock; undefined for the direct target. */
  proxy: Proc | undefined;
}

export interface LoadRun {
  rps: number;
  p50: number;
  p99: number;
  completed: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** CPU µs per request for the proxy (undefined for direct), the mock, and this process (the load generator). */
  proxyCpuUs: number | undefined;
  mockCpuUs: number;
  loadgenCpuUs: number;
}

export async function loadRun(
  target: Target,
  mock: Proc,
  opts: { body: string; connections: number; durationS: number; authorization?: string | undefined },
): Promise<LoadRun> {
  const before = { proxy: target.proxy && cpuMicros(target.proxy.pid), mock: cpuMicros(mock.pid) };
  const self = process.cpuUsage();
  const r = await new Promise<Result>((resolve, reject) =>
    autocannon(
      {
        url: `${target.origin}${PATH}`,
        method: "POST",
        headers: { "content-type": "application/json", authorization: opts.authorization ?? "Bearer bench-client" },
        body: opts.body,
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationS,
        timeout: 10,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  const selfUsed = process.cpuUsage(self);
  const completed = r["2xx"] + r.non2xx;
  const perReq = (us: number) => (completed > 0 ? us / completed : Number.NaN);
  return {
    rps: r["2xx"] / r.duration,
    // autocannon's histogram has 1 ms resolution: under load that is coarse but comparable.
    p50: r.latency.p50,
    p99: r.latency.p99,
    completed,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
    proxyCpuUs:
      target.proxy && before.proxy !== undefined ? perReq(cpuMicros(target.proxy.pid) - before.proxy) : undefined,
    mockCpuUs: perReq(cpuMicros(mock.pid) - before.mock),
    loadgenCpuUs: perReq(selfUsed.user + selfUsed.system),
  };
}

/**
 * One request over a kept-alive connection, timed from dispatch to its last byte (and to its first body byte).
 * It goes through undici's dispatch API, not request(): the body is counted, never buffered or iterated as a
 * stream, so the client's own overhead (~10-35 µs a call with request() and for-await here) stays out of what
 * the server is timed on.
 */
export function timeOne(client: Client, body: string | Req): Promise<{ totalMs: number; ttfbMs: number }> {
  const req: Req = typeof body === "string" ? { path: PATH, headers: OPENAI_HEADERS, body } : body;
  return new Promise((resolve, reject) => {
    let status = 0;
    let first: bigint | undefined;
    let errorText = "";
    const t0 = process.hrtime.bigint();
    client.dispatch(
      { method: "POST", ...req },
      // The handler shape Client.dispatch takes as is (the newer onResponse* one needs a composed dispatcher).
      {
        onConnect() {},
        onHeaders(statusCode) {
          status = statusCode;
          return true;
        },
        onData(chunk) {
          first ??= process.hrtime.bigint();
          if (status !== 200 && errorText.length < 300) errorText += chunk.toString();
          return true;
        },
        onComplete() {
          const t1 = process.hrtime.bigint();
          if (status !== 200) reject(new Error(`HTTP ${status} from ${req.path}: ${errorText.slice(0, 300)}`));
          else resolve({ totalMs: Number(t1 - t0) / 1e6, ttfbMs: Number((first ?? t1) - t0) / 1e6 });
        },
        onError: reject,
      },
    );
  });
}

/**
 * Sequential requests, one keep-alive connection per target, interleaved in blocks so that drift
 * (thermal, other load, GC) hits every target alike; the starting target rotates each block.
 * `body` is one OpenAI body for all, or each target's own request.
 */
export async function sequential(
  targets: Target[],
  opts: {
    body: string | ((t: Target) => Req);
    perTarget: number;
    block: number;
    warmup: number;
    pick: "totalMs" | "ttfbMs";
  },
): Promise<Map<string, number[]>> {
  const bodyOf = (t: Target) => (typeof opts.body === "string" ? opts.body : opts.body(t));
  const clients = new Map(targets.map((t) => [t.name, new Client(t.origin, { pipelining: 1 })]));
  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  try {
    for (const t of targets) {
      const c = clients.get(t.name) as Client;
      const body = bodyOf(t);
      for (let i = 0; i < opts.warmup; i++) await timeOne(c, body);
    }
    const blocks = Math.ceil(opts.perTarget / opts.block);
    for (let b = 0; b < blocks; b++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(b + k) % targets.length] as Target;
        const c = clients.get(t.name) as Client;
        const out = samples.get(t.name) as number[];
        const body = bodyOf(t);
        for (let i = 0; i < opts.block; i++) out.push((await timeOne(c, body))[opts.pick]);
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
  return samples;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (values: readonly number[]): number => percentile(values, 50);
