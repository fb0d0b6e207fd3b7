// Tollgate bench: direct-to-mock vs a bare pass-through proxy vs a bare hono app (the "hono floor") vs Tollgate,
// measured interleaved in one run; then provider translation (Tollgate -> OpenAI / Anthropic / Gemini mocks, and
// each mock direct) at one connection.
// `npm run bench` (~2-3 min) or `BENCH_QUICK=1 npm run bench` (~30 s smoke run). Results go to bench/results/.
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { Client } from "undici";
import { type CacheBenchFigures, runCacheBench } from "./cache.js";
import { type LedgerBenchRow, runLedgerBench } from "./ledger.js";
import {
  anthropicReq,
  BODY,
  bedrockReq,
  geminiReq,
  type LoadRun,
  loadRun,
  openaiReq,
  PATH,
  type Req,
  STREAM_BODY,
  sequential,
  type Target,
} from "./lib/measure.js";
import {
  CLK_TCK,
  freePort,
  killAll,
  killAllNow,
  type Proc,
  peakRssMiB,
  readPort,
  spawnNode,
  waitReady,
} from "./lib/procs.js";
import {
  type Check,
  type LoadSummary,
  PROVIDERS,
  printChecks,
  printTable,
  type SeqSummary,
  summarizeLoad,
  summarizeSeq,
  TARGETS,
  type TargetName,
  TRANSLATION_TARGETS,
  type TranslationSeq,
  type TranslationTargetName,
  translationOverhead,
  writeResults,
} from "./lib/report.js";
import { type PredictBenchFigures, runPredictBench } from "./predict.js";
import { type RoutingBenchFigures, runRoutingBench } from "./routing.js";
import { runStagesBench, type StagesFigures } from "./stages.js";
import { runTokenBench, type TokenBenchFigures } from "./tokens.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const QUICK = process.env.BENCH_QUICK === "1";
const PLAN = {
  quick: QUICK,
  chunks: 20,
  connections: 50,
  rounds: QUICK ? 1 : 3,
  durationS: QUICK ? 2 : 5,
  warmupS: QUICK ? 1 : 2,
  sequentialPerTarget: QUICK ? 300 : 2000,
  sequentialWarmup: QUICK ? 50 : 200,
  block: 100,
  pauseMs: 250,
  /** Upstream model names the Anthropic and Gemini mocks answer normally (see bench/routes.bench.yaml). */
  anthropicModel: "claude-3-5-sonnet-latest",
  geminiModel: "gemini-2.0-flash",
  bedrockModel: "anthropic.claude-3-5-sonnet-20240620-v1:0",
  /** Target for what translating adds over the OpenAI pass-through, p50 at one connection. */
  translationMaxMs: 0.1,
};

/** A target for the translation rows: each sends its own request (OpenAI, Anthropic or Gemini wire format). */
interface TranslationTarget extends Target {
  name: TranslationTargetName;
  req: (stream: boolean) => Req;
  /** What a complete answer contains, non-stream and stream. */
  expect: { json: (body: string) => boolean; sse: (text: string) => boolean };
}

let stopping = false;
process.on("exit", killAllNow);
process.on("SIGINT", () => void shutdown(130, "interrupted"));
process.on("SIGTERM", () => void shutdown(143, "terminated"));

async function shutdown(code: number, message?: string): Promise<never> {
  stopping = true;
  if (message) console.error(`bench: ${message}`);
  await killAll();
  process.exit(code);
}

async function main(): Promise<number> {
  console.log(`bench: building (npm run build)${QUICK ? ", quick mode" : ""}`);
  try {
    execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  } catch {
    throw new Error("npm run build failed");
  }

  const mock = spawnNode("mock upstream", ["--import", "tsx", "test/mocks/serve-openai.ts", "0", String(PLAN.chunks)], {
    readStdout: true,
  });
  const mockPort = await readPort(mock);
  const mockOrigin = `http://127.0.0.1:${mockPort}`;
  const bare = spawnNode("bare proxy", ["--import", "tsx", "bench/bare-proxy.ts", "0", mockOrigin], {
    readStdout: true,
  });
  const barePort = await readPort(bare);
  const hono = spawnNode("hono floor", ["--import", "tsx", "bench/hono-proxy.ts", "0", mockOrigin], {
    readStdout: true,
  });
  const honoPort = await readPort(hono);
  const anthropicMock = spawnNode("anthropic mock", ["--import", "tsx", "test/mocks/serve-native.ts", "anthropic"], {
    readStdout: true,
  });
  const anthropicPort = await readPort(anthropicMock);
  const geminiMock = spawnNode("gemini mock", ["--import", "tsx", "test/mocks/serve-native.ts", "gemini"], {
    readStdout: true,
  });
  const geminiPort = await readPort(geminiMock);
  const bedrockMock = spawnNode("bedrock mock", ["--import", "tsx", "test/mocks/serve-native.ts", "bedrock"], {
    readStdout: true,
  });
  const bedrockPort = await readPort(bedrockMock);
  const tollgatePort = await freePort();
  // stdout (one log line per request) is discarded: the bench measures the gateway, not the terminal.
  const tollgate = spawnNode(
    "tollgate",
    ["dist/main.js", "--config", "bench/routes.bench.yaml", "--port", String(tollgatePort)],
    {
      env: {
        BENCH_UPSTREAM_PORT: String(mockPort),
        BENCH_ANTHROPIC_PORT: String(anthropicPort),
        BENCH_GEMINI_PORT: String(geminiPort),
        BENCH_BEDROCK_PORT: String(bedrockPort),
      },
      readStdout: false,
    },
  );
  const procs: Proc[] = [mock, bare, hono, tollgate, anthropicMock, geminiMock, bedrockMock];
  const targets: Target[] = [
    { name: "direct", origin: mockOrigin, proxy: undefined },
    { name: "bare", origin: `http://127.0.0.1:${barePort}`, proxy: bare },
    { name: "hono-floor", origin: `http://127.0.0.1:${honoPort}`, proxy: hono },
    { name: "tollgate", origin: `http://127.0.0.1:${tollgatePort}`, proxy: tollgate },
  ];
  for (const t of targets) await waitReady(t.proxy ?? mock, () => checkAnswers(t.origin));
  const translationTargets = makeTranslationTargets({
    openai: mockOrigin,
    anthropic: `http://127.0.0.1:${anthropicPort}`,
    gemini: `http://127.0.0.1:${geminiPort}`,
    bedrock: `http://127.0.0.1:${bedrockPort}`,
    tollgate: `http://127.0.0.1:${tollgatePort}`,
    tollgateProc: tollgate,
  });
  const ownProc = { openai: mock, anthropic: anthropicMock, gemini: geminiMock, bedrock: bedrockMock };
  for (const t of translationTargets) {
    const upstream = t.name.split(/->| /).at(-1) as keyof typeof ownProc;
    await waitReady(t.proxy ?? ownProc[upstream], () => checkTranslation(t));
  }

  // From here on a child dying is a failure, not a detail.
  const crashed = new Promise<never>((_, reject) => {
    for (const p of procs) {
      p.child.once("exit", (code, signal) => {
        if (!stopping) reject(new Error(`${p.name} exited mid-run (code ${code}, signal ${signal})\n${p.stderr()}`));
      });
    }
  });
  const results = await Promise.race([measure(targets, mock, translationTargets), crashed]);
  console.log("bench: auth + rate limit + budget stages (embedded, Redis)");
  const stages = await runStagesBench({
    plain: targets.find((t) => t.name === "tollgate") as Target,
    mock,
    mockPort,
    perTarget: PLAN.sequentialPerTarget,
    connections: PLAN.connections,
    durationS: PLAN.durationS,
  });
  console.log("bench: cache (exact hit, miss path, hit throughput)");
  const cache = await runCacheBench({
    mock,
    mockPort,
    perTarget: PLAN.sequentialPerTarget,
    durationS: PLAN.durationS,
    rounds: PLAN.rounds,
  });
  const peakRss = {
    mock: peakRssMiB(mock.pid),
    bare: peakRssMiB(bare.pid),
    "hono-floor": peakRssMiB(hono.pid),
    tollgate: peakRssMiB(tollgate.pid),
  };
  stopping = true;
  await killAll();
  return report(results, peakRss, await costEngineFigures(), stages, cache);
}

interface CostFigures {
  routing: RoutingBenchFigures;
  predict: PredictBenchFigures;
  tokens: TokenBenchFigures;
  ledger: LedgerBenchRow[] | string;
}

/** In this process, after the HTTP measurements: route + resilience stages, predict stage, tokenizer, ledger. */
async function costEngineFigures(): Promise<CostFigures> {
  console.log("bench: predict stage, tokenizer, usage ledger (in process)");
  const routing = await runRoutingBench(QUICK ? 20_000 : 100_000);
  const predict = await runPredictBench();
  const tokens = await runTokenBench();
  let ledger: LedgerBenchRow[] | string;
  try {
    ledger = await runLedgerBench({ records: QUICK ? 20_000 : 200_000 });
  } catch (err) {
    ledger = `not measured: ${(err as Error).message}`; // Postgres unreachable
  }
  return { routing, predict, tokens, ledger };
}

/** Before measuring: both kinds of answer arrive complete and well-formed through this target. */
async function checkAnswers(origin: string): Promise<void> {
  const client = new Client(origin);
  try {
    const post = async (body: string) => {
      const res = await client.request({
        method: "POST",
        path: PATH,
        headers: { "content-type": "application/json" },
        body,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
      return text;
    };
    const json = JSON.parse(await post(BODY)) as { choices?: { message?: { content?: string } }[] };
    if (!json.choices?.[0]?.message?.content) throw new Error("non-streaming answer has no content");
    const sse = await post(STREAM_BODY);
    const tokens = sse.match(/tok\d+ /g)?.length ?? 0;
    if (tokens !== PLAN.chunks || !sse.trimEnd().endsWith("data: [DONE]")) {
      throw new Error(`streamed answer has ${tokens}/${PLAN.chunks} chunks or no [DONE]`);
    }
  } finally {
    await client.close();
  }
}

function makeTranslationTargets(o: {
  openai: string;
  anthropic: string;
  gemini: string;
  bedrock: string;
  tollgate: string;
  tollgateProc: Proc;
}): TranslationTarget[] {
  const openaiJson = (body: string) =>
    Boolean((JSON.parse(body) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content);
  const openaiSse = (text: string) => /"content":"[^"]+"/.test(text) && text.trimEnd().endsWith("data: [DONE]");
  const viaTollgate = (alias: string) => ({
    origin: o.tollgate,
    proxy: o.tollgateProc,
    req: (stream: boolean) => openaiReq(alias, stream),
    expect: { json: openaiJson, sse: openaiSse },
  });
  const byName: Record<TranslationTargetName, Omit<TranslationTarget, "name">> = {
    // Direct to the OpenAI mock with the model Tollgate sends it for bench-chat.
    "direct openai": { ...viaTollgate("gpt-4o-mini"), origin: o.openai, proxy: undefined },
    "tollgate->openai": viaTollgate("bench-chat"),
    "direct anthropic": {
      origin: o.anthropic,
      proxy: undefined,
      req: (stream) => anthropicReq(PLAN.anthropicModel, stream),
      expect: {
        json: (body) => Boolean((JSON.parse(body) as { content?: { text?: string }[] }).content?.[0]?.text),
        sse: (text) => text.includes('"text_delta"') && text.includes("event: message_stop"),
      },
    },
    "tollgate->anthropic": viaTollgate("bench-anthropic"),
    "direct gemini": {
      origin: o.gemini,
      proxy: undefined,
      req: (stream) => geminiReq(PLAN.geminiModel, stream),
      expect: {
        json: (body) =>
          Boolean(
            (JSON.parse(body) as { candidates?: { content?: { parts?: { text?: string }[] } }[] }).candidates?.[0]
              ?.content?.parts?.[0]?.text,
          ),
        sse: (text) => text.includes('"text"') && text.includes('"finishReason"'),
      },
    },
    "tollgate->gemini": viaTollgate("bench-gemini"),
    "direct bedrock": {
      origin: o.bedrock,
      proxy: undefined,
      req: (stream) => bedrockReq(PLAN.bedrockModel, stream),
      expect: {
        json: (body) =>
          Boolean(
            (JSON.parse(body) as { output?: { message?: { content?: { text?: string }[] } } }).output?.message
              ?.content?.[0]?.text,
          ),
        // The binary event stream, read as text: its JSON payloads and event-type headers show through.
        sse: (text) => text.includes("contentBlockDelta") && text.includes("messageStop"),
      },
    },
    "tollgate->bedrock": viaTollgate("bench-bedrock"),
  };
  return TRANSLATION_TARGETS.map((name) => ({ name, ...byName[name] }));
}

/** Before measuring: a translation target gives a complete answer, non-stream and stream, in its own format. */
async function checkTranslation(t: TranslationTarget): Promise<void> {
  const client = new Client(t.origin);
  try {
    for (const stream of [false, true]) {
      const res = await client.request({ method: "POST", ...t.req(stream) });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
      if (!(stream ? t.expect.sse(text) : t.expect.json(text))) {
        throw new Error(`${t.name}: incomplete ${stream ? "stream" : "non-stream"} answer: ${text.slice(0, 300)}`);
      }
    }
  } finally {
    await client.close();
  }
}

type Scenario = "non-stream" | "stream";
interface Measured {
  load: Record<Scenario, Record<TargetName, LoadSummary>>;
  seq: Record<"latency 1conn" | "ttfb 1conn", Record<TargetName, SeqSummary>>;
  translation: TranslationSeq;
  warmupFailures: string[];
  elapsedS: number;
}

async function measure(targets: Target[], mock: Proc, translationTargets: TranslationTarget[]): Promise<Measured> {
  const started = Date.now();
  const bodies: Record<Scenario, string> = { "non-stream": BODY, stream: STREAM_BODY };
  const pause = () => new Promise((r) => setTimeout(r, PLAN.pauseMs));
  const warmupFailures: string[] = [];

  for (const [scenario, body] of Object.entries(bodies)) {
    for (const t of targets) {
      console.log(`bench: warm-up ${scenario} ${t.name} (${PLAN.warmupS} s)`);
      const r = await loadRun(t, mock, { body, connections: PLAN.connections, durationS: PLAN.warmupS });
      if (r.non2xx + r.errors + r.timeouts > 0) {
        warmupFailures.push(
          `warm-up ${scenario} ${t.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`,
        );
      }
      await pause();
    }
  }

  const load = {} as Measured["load"];
  for (const [scenario, body] of Object.entries(bodies) as [Scenario, string][]) {
    const rounds = new Map<string, LoadRun[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < PLAN.rounds; round++) {
      // Rotate who goes first so no target always runs right after the same neighbour.
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(round + k) % targets.length] as Target;
        const r = await loadRun(t, mock, { body, connections: PLAN.connections, durationS: PLAN.durationS });
        console.log(
          `bench: ${scenario} round ${round + 1}/${PLAN.rounds} ${t.name.padEnd(10)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms`,
        );
        rounds.get(t.name)?.push(r);
        await pause();
      }
    }
    load[scenario] = Object.fromEntries(TARGETS.map((name) => [name, summarizeLoad(rounds.get(name) ?? [])])) as Record<
      TargetName,
      LoadSummary
    >;
  }

  const seq = {} as Measured["seq"];
  for (const [label, body, pick] of [
    ["latency 1conn", BODY, "totalMs"],
    ["ttfb 1conn", STREAM_BODY, "ttfbMs"],
  ] as const) {
    console.log(`bench: ${label}, ${PLAN.sequentialPerTarget} sequential requests per target`);
    const samples = await sequential(targets, {
      body,
      perTarget: PLAN.sequentialPerTarget,
      block: PLAN.block,
      warmup: PLAN.sequentialWarmup,
      pick,
    });
    seq[label] = Object.fromEntries(TARGETS.map((name) => [name, summarizeSeq(samples.get(name) ?? [])])) as Record<
      TargetName,
      SeqSummary
    >;
  }

  // Provider translation: the same content sent to each target in its own wire format, one connection.
  const translation = {} as TranslationSeq;
  for (const [label, stream, pick] of [
    ["translation latency 1conn", false, "totalMs"],
    ["translation ttfb 1conn", true, "ttfbMs"],
  ] as const) {
    console.log(`bench: ${label}, ${PLAN.sequentialPerTarget} sequential requests per target`);
    const samples = await sequential(translationTargets, {
      body: (t) => (t as TranslationTarget).req(stream),
      perTarget: PLAN.sequentialPerTarget,
      block: PLAN.block,
      warmup: PLAN.sequentialWarmup,
      pick,
    });
    translation[label] = Object.fromEntries(
      TRANSLATION_TARGETS.map((name) => [name, summarizeSeq(samples.get(name) ?? [])]),
    ) as Record<TranslationTargetName, SeqSummary>;
  }
  return { load, seq, translation, warmupFailures, elapsedS: (Date.now() - started) / 1000 };
}

function report(
  m: Measured,
  peakRss: Record<"mock" | Exclude<TargetName, "direct">, number>,
  cost: CostFigures,
  stages: StagesFigures,
  cache: CacheBenchFigures,
): number {
  const { load, seq } = m;
  const ratio = (s: Scenario) => load[s].tollgate.rps / load[s].bare.rps;
  const honoRatio = (s: Scenario) => load[s]["hono-floor"].rps / load[s].bare.rps;
  // Proxy CPU per request, a minus b: splits Tollgate's cost into the framework's and its own.
  const cpuDiff = (s: Scenario, a: TargetName, b: TargetName) =>
    ((load[s][a].proxyCpuUs ?? Number.NaN) - (load[s][b].proxyCpuUs ?? Number.NaN)).toFixed(1);
  const lat = seq["latency 1conn"];
  const ttfb = seq["ttfb 1conn"];
  const checks: Check[] = [
    {
      name: "Tollgate/bare req/s, non-stream",
      value: ratio("non-stream"),
      target: ">= 0.8x",
      pass: ratio("non-stream") >= 0.8,
    },
    { name: "Tollgate/bare req/s, stream", value: ratio("stream"), target: ">= 0.8x", pass: ratio("stream") >= 0.8 },
    {
      name: "added latency p50, Tollgate - bare (ms)",
      value: lat.tollgate.p50 - lat.bare.p50,
      target: "<= 0.3 ms",
      pass: lat.tollgate.p50 - lat.bare.p50 <= 0.3,
    },
    {
      name: "stream TTFB p50, Tollgate - bare (ms)",
      value: ttfb.tollgate.p50 - ttfb.bare.p50,
      target: "<= 1 ms",
      pass: ttfb.tollgate.p50 - ttfb.bare.p50 <= 1,
    },
  ];
  const info: [string, string][] = [
    ["added latency p50, bare - direct (ms)", (lat.bare.p50 - lat.direct.p50).toFixed(3)],
    ["added latency p99, Tollgate - bare (ms)", (lat.tollgate.p99 - lat.bare.p99).toFixed(3)],
    ["stream TTFB p99, Tollgate - bare (ms)", (ttfb.tollgate.p99 - ttfb.bare.p99).toFixed(3)],
    ["stream TTFB p50, bare - direct (ms)", (ttfb.bare.p50 - ttfb.direct.p50).toFixed(3)],
    [
      "peak RSS MiB (mock / bare / hono floor / tollgate)",
      [peakRss.mock, peakRss.bare, peakRss["hono-floor"], peakRss.tollgate].map((v) => v.toFixed(1)).join(" / "),
    ],
    // The hono floor, for information only: the checks below still compare Tollgate with the bare proxy.
    ["hono floor/bare req/s, non-stream", honoRatio("non-stream").toFixed(3)],
    ["hono floor/bare req/s, stream", honoRatio("stream").toFixed(3)],
    ["CPU µs/req: hono floor - bare, non-stream", cpuDiff("non-stream", "hono-floor", "bare")],
    ["CPU µs/req: Tollgate - hono floor, non-stream", cpuDiff("non-stream", "tollgate", "hono-floor")],
    ["CPU µs/req: hono floor - bare, stream", cpuDiff("stream", "hono-floor", "bare")],
    ["CPU µs/req: Tollgate - hono floor, stream", cpuDiff("stream", "tollgate", "hono-floor")],
  ];

  // Provider translation: what translating adds over the OpenAI pass-through path, mocks' own speed subtracted.
  const overheadMs = Object.fromEntries(
    PROVIDERS.map((p) => [
      p,
      {
        latencyP50: translationOverhead(m.translation["translation latency 1conn"], p),
        ttfbP50: translationOverhead(m.translation["translation ttfb 1conn"], p),
        latencyP99: translationOverhead(m.translation["translation latency 1conn"], p, "p99"),
        ttfbP99: translationOverhead(m.translation["translation ttfb 1conn"], p, "p99"),
      },
    ]),
  ) as Record<(typeof PROVIDERS)[number], { latencyP50: number; ttfbP50: number; latencyP99: number; ttfbP99: number }>;
  const translationChecks: Check[] = PROVIDERS.map((p) => ({
    name: `translation overhead p50 (ms), ${p}, non-stream latency`,
    value: overheadMs[p].latencyP50,
    target: `<= ${PLAN.translationMaxMs} ms`,
    pass: overheadMs[p].latencyP50 <= PLAN.translationMaxMs,
  }));
  const translationInfo: [string, string][] = PROVIDERS.map((p) => [
    `translation overhead p50 (ms), ${p}, stream TTFB`,
    overheadMs[p].ttfbP50.toFixed(3),
  ]);
  checks.push(...translationChecks);
  info.push(...translationInfo);

  for (const [strategy, us] of Object.entries(cost.routing.routedUs)) {
    checks.push({
      name: `route + resilience stages, added µs/request over the core path (${strategy}, 3 deployments)`,
      value: us - cost.routing.coreUs,
      target: "<= 50 µs",
      pass: us - cost.routing.coreUs <= 50,
    });
  }
  info.push(
    ["predict stage µs/request, repeated messages", cost.predict.repeatedUs.toFixed(1)],
    ["predict stage µs/request, new ~100-token user message", cost.predict.distinctUs.toFixed(1)],
    ["predict stage µs/request, alias with 3 deployments", cost.predict.threeDeploymentsUs.toFixed(1)],
    ["tokenizer: o200k_base encoder load (ms)", cost.tokens.encoderLoadMs.o200k_base.toFixed(0)],
    ...cost.tokens.counts.map((c): [string, string] => [
      `tokenizer µs/count, ${c.name} (${c.tokens} tokens), sync / async`,
      `${c.syncUs.toFixed(0)} / ${c.asyncUs.toFixed(0)}`,
    ]),
    [
      "tokenizer: worst event-loop delay during a 100k count (ms), sync / worker",
      `${cost.tokens.eventLoopDelayMs.sync.toFixed(1)} / ${cost.tokens.eventLoopDelayMs.async.toFixed(1)}`,
    ],
  );
  for (const [name, t] of Object.entries(stages.targets)) {
    info.push([
      `${name}: p50 / p99 ms at 1 conn., req/s at ${PLAN.connections}`,
      `${t.p50.toFixed(3)} / ${t.p99.toFixed(3)}, ${t.rps.toFixed(0)}`,
    ]);
  }
  checks.push({
    name: "auth + rate limit + budget, added p50 (ms), embedded",
    value: stages.addedP50.embedded,
    target: "<= 0.15 ms",
    pass: stages.addedP50.embedded <= 0.15,
  });
  if (stages.addedP50.redis === undefined) info.push(["stages with Redis", `not measured: ${stages.redisError}`]);
  else {
    checks.push({
      name: "auth + rate limit + budget, added p50 (ms), Redis",
      value: stages.addedP50.redis,
      target: "<= 0.5 ms",
      pass: stages.addedP50.redis <= 0.5,
    });
  }
  info.push([
    "cache: pass-through / exact hit / miss / bare node:http same bytes, p50 ms at 1 conn.",
    `${cache.passThroughP50.toFixed(3)} / ${cache.hitP50.toFixed(3)} / ${cache.missP50.toFixed(3)} / ${cache.floorP50.toFixed(3)}`,
  ]);
  info.push(
    [
      "cache: pass-through / hits req/s at 50 conn., each round",
      cache.rounds.map((r) => `${r.passThrough.toFixed(0)} / ${r.hit.toFixed(0)}`).join(", "),
    ],
    [
      "cache: CPU µs/req gateway + mock + load generator, pass-through / hit",
      `${cache.passThroughCpuUs.gateway.toFixed(0)} + ${cache.passThroughCpuUs.mock.toFixed(0)} + ${cache.passThroughCpuUs.loadgen.toFixed(0)} / ${cache.hitCpuUs.gateway.toFixed(0)} + ${cache.hitCpuUs.mock.toFixed(0)} + ${cache.hitCpuUs.loadgen.toFixed(0)}`,
    ],
  );
  checks.push(
    { name: "cache: exact hit p50 (ms)", value: cache.hitP50, target: "<= 0.2 ms", pass: cache.hitP50 <= 0.2 },
    {
      name: "cache: exact-tier miss adds p50 (ms)",
      value: cache.missP50 - cache.passThroughP50,
      target: "<= 0.05 ms",
      pass: cache.missP50 - cache.passThroughP50 <= 0.05,
    },
    {
      name: "cache: hits / pass-through req/s at 50 conn.",
      value: cache.hitRps / cache.passThroughRps,
      target: ">= 2x",
      pass: cache.hitRps / cache.passThroughRps >= 2,
    },
  );
  if (typeof cost.ledger === "string") info.push(["usage ledger", cost.ledger]);
  else {
    for (const row of cost.ledger) {
      if (row.dialect === "sqlite") info.push(["usage ledger records/s into SQLite", String(row.recordsPerSec)]);
    }
    const pg = cost.ledger.find((r) => r.dialect === "postgres");
    if (pg) {
      checks.push({
        name: "usage ledger records/s into Postgres",
        value: pg.recordsPerSec,
        target: ">= 10000",
        pass: pg.recordsPerSec >= 10_000,
      });
    }
  }

  const failures = [...m.warmupFailures];
  for (const [scenario, byTarget] of Object.entries(load)) {
    for (const t of TARGETS) {
      const s = byTarget[t];
      if (s.non2xx + s.errors + s.timeouts > 0) {
        failures.push(`${scenario} ${t}: ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts`);
      }
    }
  }

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cpus: cpus().length,
    clkTck: CLK_TCK,
    plan: PLAN,
    bodyBytes: { nonStream: Buffer.byteLength(BODY), stream: Buffer.byteLength(STREAM_BODY) },
    measureElapsedS: m.elapsedS,
  };
  console.log(
    `\nTollgate bench: ${meta.node}, ${meta.cpu} (${meta.cpus} cpus), ${PLAN.rounds} round(s) x ${PLAN.durationS} s at ${PLAN.connections} connections, medians of rounds; CPU in µs per request\n`,
  );
  printTable(load, seq, m.translation);
  console.log("");
  printChecks(info, checks);
  const file = writeResults(`${ROOT}bench/results`, {
    meta,
    load,
    sequential: seq,
    translation: {
      formula: "(Tollgate->X - direct X) - (Tollgate->OpenAI - direct OpenAI), ms",
      sequential: m.translation,
      overheadMs,
    },
    peakRssMiB: peakRss,
    costEngine: cost,
    stages,
    cache,
    checks,
    failures,
  });
  console.log(`\nresults: ${file} (and bench/results/latest.json)`);
  if (failures.length) {
    console.error(`\nbench: FAILED, requests did not all succeed:\n  ${failures.join("\n  ")}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => shutdown(code),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    return shutdown(1);
  },
);
