// What the auth, rate limit and budget stages add: the same route through Tollgate without them (open mode),
// with them on in-process state, and with them on Redis. Called by bench/run.ts with the mock already up.
import { randomBytes } from "node:crypto";
import { BODY, loadRun, percentile, type Req, sequential, type Target } from "./lib/measure.js";
import { freePort, type Proc, spawnNode, waitReady } from "./lib/procs.js";

export interface StagesFigures {
  /** Per target: p50 / p99 ms at one connection, and req/s at 50 connections. */
  targets: Record<string, { p50: number; p99: number; rps: number }>;
  /** p50 added over Tollgate without the stages, ms. */
  addedP50: { embedded: number; redis: number | undefined };
  redisError?: string;
}

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export async function runStagesBench(opts: {
  plain: Target;
  mock: Proc;
  mockPort: number;
  perTarget: number;
  connections: number;
  durationS: number;
}): Promise<StagesFigures> {
  const key = `tg-${randomBytes(24).toString("base64url")}`;
  // A fresh team per run: the Redis budget counters start at zero.
  const team = `bench-${randomBytes(4).toString("hex")}`;
  const start = async (name: string, extraEnv: NodeJS.ProcessEnv): Promise<Target> => {
    // stdout (a log line per request) is discarded, as for the main Tollgate target: a full pipe would stall it.
    const port = await freePort();
    const proc = spawnNode(name, ["dist/main.js", "--config", "bench/routes.stages.yaml", "--port", String(port)], {
      env: { BENCH_UPSTREAM_PORT: String(opts.mockPort), BENCH_KEY: key, BENCH_TEAM: team, ...extraEnv },
      readStdout: false,
    });
    const target = { name, origin: `http://127.0.0.1:${port}`, proxy: proc };
    await waitReady(proc, async () => {
      const r = await fetch(`${target.origin}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: BODY,
      });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
    });
    return target;
  };
  const embedded = await start("stages embedded", { TOLLGATE_DATA_DIR: `/tmp/tollgate-bench-${team}-a` });
  let redis: Target | undefined;
  let redisError: string | undefined;
  try {
    redis = await start("stages redis", { TOLLGATE_DATA_DIR: `/tmp/tollgate-bench-${team}-b`, REDIS_URL });
  } catch (err) {
    redisError = (err as Error).message;
  }
  const targets = [opts.plain, embedded, ...(redis ? [redis] : [])];
  // In the full bench the plain target has served the load rows already: gateways started here and measured
  // against it at once would still run unoptimised code. Every target gets the same warm load first.
  for (const t of targets) {
    const authorization = t === opts.plain ? undefined : `Bearer ${key}`;
    await loadRun(t, opts.mock, { body: BODY, connections: 10, durationS: 3, authorization });
  }
  const req = (t: Target): Req => ({
    path: "/v1/chat/completions",
    headers: {
      "content-type": "application/json",
      ...(t === opts.plain ? {} : { authorization: `Bearer ${key}` }),
    },
    body: BODY,
  });
  const samples = await sequential(targets, {
    body: req,
    perTarget: opts.perTarget,
    block: 100,
    warmup: 200,
    pick: "totalMs",
  });
  const out: StagesFigures["targets"] = {};
  for (const t of targets) {
    const s = samples.get(t.name) ?? [];
    const run = await loadRun(t, opts.mock, {
      body: BODY,
      connections: opts.connections,
      durationS: opts.durationS,
      authorization: t === opts.plain ? undefined : `Bearer ${key}`,
    });
    if (run.non2xx + run.errors > 0)
      throw new Error(`${t.name}: ${run.non2xx} non-2xx, ${run.errors} errors under load`);
    out[t.name] = { p50: percentile(s, 50), p99: percentile(s, 99), rps: run.rps };
  }
  const plainP50 = out[opts.plain.name]?.p50 ?? Number.NaN;
  return {
    targets: out,
    addedP50: {
      embedded: (out[embedded.name]?.p50 ?? Number.NaN) - plainP50,
      redis: redis ? (out[redis.name]?.p50 ?? Number.NaN) - plainP50 : undefined,
    },
    ...(redisError ? { redisError } : {}),
  };
}
