// The cache rows: an exact hit against the uncached pass-through at one connection, what the miss path adds
// (key, tap and store: `cache-control: no-cache` skips the lookup and stores), and hit throughput at 50
// connections; beside them a bare node:http server answering the same bytes, the floor a hit cannot beat on
// this machine. Run alone with `npm run bench:cache`; bench/run.ts includes it.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { BODY, type LoadRun, loadRun, percentile, type Req, sequential, type Target } from "./lib/measure.js";
import { freePort, killAll, type Proc, readPort, spawnNode, waitReady } from "./lib/procs.js";

export interface CacheBenchFigures {
  /** p50 ms at one connection. */
  passThroughP50: number;
  hitP50: number;
  missP50: number;
  /** A bare node:http server answering the hit's bytes: the machine's floor for a hit. */
  floorP50: number;
  /** req/s at 50 connections: medians of rounds that alternate pass-through and hits. */
  passThroughRps: number;
  hitRps: number;
  /** Each round's req/s, to show the spread on a shared machine. */
  rounds: { passThrough: number; hit: number }[];
  /** CPU µs per request at 50 connections: the gateway's, the mock upstream's and the load generator's. */
  passThroughCpuUs: { gateway: number; mock: number; loadgen: number };
  hitCpuUs: { gateway: number; mock: number; loadgen: number };
}

const CACHED = BODY.replace('"model":"bench-chat"', '"model":"bench-cached"');

export async function runCacheBench(opts: {
  mock: Proc;
  mockPort: number;
  perTarget: number;
  durationS: number;
  rounds: number;
}): Promise<CacheBenchFigures> {
  const port = await freePort();
  const proc = spawnNode(
    "tollgate cache",
    ["dist/main.js", "--config", "bench/routes.cache.yaml", "--port", String(port)],
    {
      env: { BENCH_UPSTREAM_PORT: String(opts.mockPort), TOLLGATE_DATA_DIR: `/tmp/tollgate-bench-cache-${port}` },
      readStdout: false,
    },
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitReady(proc, async () => {
    const r = await fetch(`${origin}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: CACHED,
    });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  });
  const hit = await fetch(`${origin}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: CACHED,
  });
  if (hit.headers.get("x-tollgate-cache") !== "hit") throw new Error("the cached alias did not answer from the cache");
  const answerFile = `/tmp/tollgate-bench-cache-${port}.json`;
  await writeFile(answerFile, new Uint8Array(await hit.arrayBuffer()));
  const floor = spawnNode("fixed answer", ["--import", "tsx", "bench/fixed-answer.ts", "0", answerFile], {
    readStdout: true,
  });
  const floorOrigin = `http://127.0.0.1:${await readPort(floor)}`;
  const targets: Target[] = [
    { name: "pass-through", origin, proxy: proc },
    { name: "hit", origin, proxy: proc },
    { name: "miss", origin, proxy: proc },
    { name: "floor", origin: floorOrigin, proxy: floor },
  ];
  const json = { "content-type": "application/json" };
  const reqs: Record<string, Req> = {
    "pass-through": { path: "/v1/chat/completions", headers: json, body: BODY },
    hit: { path: "/v1/chat/completions", headers: json, body: CACHED },
    miss: { path: "/v1/chat/completions", headers: { ...json, "cache-control": "no-cache" }, body: CACHED },
    floor: { path: "/v1/chat/completions", headers: json, body: CACHED },
  };
  const samples = await sequential(targets, {
    body: (t) => reqs[t.name] as Req,
    perTarget: opts.perTarget,
    block: 100,
    warmup: 200,
    pick: "totalMs",
  });
  const p50 = (name: string) => percentile(samples.get(name) ?? [], 50);
  floor.child.kill("SIGTERM");
  const load = (body: string) =>
    loadRun(targets[0] as Target, opts.mock, { body, connections: 50, durationS: opts.durationS });
  const cpu = (r: LoadRun) => ({ gateway: r.proxyCpuUs ?? Number.NaN, mock: r.mockCpuUs, loadgen: r.loadgenCpuUs });
  // Alternated, so a slow spell of the shared machine falls on both paths alike.
  const passThrough: LoadRun[] = [];
  const hits: LoadRun[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    passThrough.push(await load(BODY));
    hits.push(await load(CACHED));
  }
  const pt = medianRun(passThrough);
  const hitRun = medianRun(hits);
  return {
    passThroughP50: p50("pass-through"),
    hitP50: p50("hit"),
    missP50: p50("miss"),
    floorP50: p50("floor"),
    passThroughRps: pt.rps,
    hitRps: hitRun.rps,
    rounds: passThrough.map((r, i) => ({ passThrough: r.rps, hit: hits[i]?.rps ?? Number.NaN })),
    passThroughCpuUs: cpu(pt),
    hitCpuUs: cpu(hitRun),
  };
}

/** The round with the median req/s (its CPU figures with it). */
function medianRun(runs: readonly LoadRun[]): LoadRun {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)] as LoadRun;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.env.BENCH_QUICK === "1";
  const mock = spawnNode("mock upstream", ["--import", "tsx", "test/mocks/serve-openai.ts", "0", "20"], {
    readStdout: true,
  });
  try {
    const f = await runCacheBench({
      mock,
      mockPort: await readPort(mock),
      perTarget: quick ? 500 : 2000,
      durationS: quick ? 2 : 5,
      rounds: quick ? 1 : 3,
    });
    console.log(
      `pass-through p50 ${f.passThroughP50.toFixed(3)} ms, exact hit p50 ${f.hitP50.toFixed(3)} ms (target <= 0.2); the same bytes from bare node:http ${f.floorP50.toFixed(3)} ms`,
    );
    console.log(`miss path adds ${(f.missP50 - f.passThroughP50).toFixed(3)} ms p50 (target <= 0.05)`);
    console.log(
      `hits ${f.hitRps.toFixed(0)} req/s vs pass-through ${f.passThroughRps.toFixed(0)} at 50 conn.: ${(f.hitRps / f.passThroughRps).toFixed(2)}x (target >= 2x)`,
    );
    console.log(
      `rounds (pass-through / hits req/s): ${f.rounds.map((r) => `${r.passThrough.toFixed(0)} / ${r.hit.toFixed(0)}`).join(", ")}`,
    );
    const us = (c: CacheBenchFigures["hitCpuUs"]) =>
      `gateway ${c.gateway.toFixed(0)}, mock ${c.mock.toFixed(0)}, load generator ${c.loadgen.toFixed(0)}`;
    console.log(`CPU µs per request: pass-through ${us(f.passThroughCpuUs)}; hit ${us(f.hitCpuUs)}`);
  } finally {
    await killAll();
  }
}
