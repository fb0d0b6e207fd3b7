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
  opts: { body: string; connections: number; durationS: number },
): Promise<LoadRun> {
  const before = { proxy: target.proxy && cpuMicros(target.proxy.pid), mock: cpuMicros(mock.pid) };
  const self = process.cpuUsage();
  const r = await new Promise<Result>((resolve, reject) =>
    autocannon(
      {
        url: `${target.origin}${PATH}`,
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer bench-client" },
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

/** One request over a kept-alive connection: total time and time to the first body chunk, in ms. */
export async function timeOne(client: Client, body: string): Promise<{ totalMs: number; ttfbMs: number }> {
  const t0 = process.hrtime.bigint();
  const res = await client.request({
    method: "POST",
    path: PATH,
    headers: { "content-type": "application/json", authorization: "Bearer bench-client" },
    body,
  });
  let first: bigint | undefined;
  let text = "";
  for await (const chunk of res.body) {
    first ??= process.hrtime.bigint();
    if (res.statusCode !== 200) text += String(chunk);
  }
  const t1 = process.hrtime.bigint();
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${PATH}: ${text.slice(0, 300)}`);
  return { totalMs: Number(t1 - t0) / 1e6, ttfbMs: Number((first ?? t1) - t0) / 1e6 };
}

/**
 * Sequential requests, one keep-alive connection per target, interleaved in blocks so that drift
 * (thermal, other load, GC) hits every target alike; the starting target rotates each block.
 */
export async function sequential(
  targets: Target[],
  opts: { body: string; perTarget: number; block: number; warmup: number; pick: "totalMs" | "ttfbMs" },
): Promise<Map<string, number[]>> {
  const clients = new Map(targets.map((t) => [t.name, new Client(t.origin, { pipelining: 1 })]));
  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  try {
    for (const t of targets) {
      const c = clients.get(t.name) as Client;
      for (let i = 0; i < opts.warmup; i++) await timeOne(c, opts.body);
    }
    const blocks = Math.ceil(opts.perTarget / opts.block);
    for (let b = 0; b < blocks; b++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(b + k) % targets.length] as Target;
        const c = clients.get(t.name) as Client;
        const out = samples.get(t.name) as number[];
        for (let i = 0; i < opts.block; i++) out.push((await timeOne(c, opts.body))[opts.pick]);
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
