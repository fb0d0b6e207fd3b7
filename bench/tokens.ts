// Tokenizer figures for the predict stage: encoder load, µs per prompt count (short chat, 10k and 100k tokens,
// sync and through the worker pool) and the worst event-loop delay while a 100k-token prompt is counted.
// `npx tsx bench/tokens.ts`; bench/run.ts can call runTokenBench().
//
// Measured on this machine (2 vCPU shared with other jobs, load average ~5, Node 20), one run: encoder build
// o200k_base 0.86 s, cl100k_base 0.37 s; short chat (118 tokens) 119 µs; 10k tokens 10.5 ms; 100k tokens
// 155 ms sync (event loop held 151 ms) vs 146 ms in the worker (event-loop delay 5.2 ms). Idle, 100k tokens
// took ~100 ms. Hence countPromptTokensAsync() sends prompts over 16k chars (~4 ms inline) to a worker.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { ChatCompletionRequest } from "../src/openai/schema.js";
import { countPromptTokens, countPromptTokensAsync, preloadEncoders, TokenWorkerPool } from "../src/tokens/index.js";

export interface TokenBenchFigures {
  encoderLoadMs: { o200k_base: number; cl100k_base: number };
  /** Prompt size in tokens and µs per count. */
  counts: Array<{ name: string; tokens: number; syncUs: number; asyncUs: number }>;
  /** Worst event-loop delay (ms) while one 100k-token prompt is counted. */
  eventLoopDelayMs: { sync: number; async: number };
}

const WORDS = ["budget", "gateway", "token", "the", "of", "request", "stream", "cost", "alias", "upstream", "replica"];

function promptOf(words: number, variant = 0): ChatCompletionRequest {
  const parts: string[] = [];
  for (let i = 0; i < words; i++) parts.push(`${WORDS[(i * 7 + (i >> 3)) % WORDS.length]}${i % 17 === 0 ? "." : ""}`);
  return {
    model: "gpt-4o",
    messages: [
      { role: "system", content: "You are a concise assistant for a billing team." },
      { role: "user", content: `${variant} ${parts.join(" ")}` },
    ],
  } as ChatCompletionRequest;
}

/** µs per call over `requests`, round-robin (distinct requests, so the short-text cache only helps where it would). */
async function timeUs(
  requests: ChatCompletionRequest[],
  iterations: number,
  run: (r: ChatCompletionRequest) => unknown,
) {
  await run(requests[0] as ChatCompletionRequest); // warm-up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await run(requests[i % requests.length] as ChatCompletionRequest);
  return ((performance.now() - start) * 1000) / iterations;
}

async function worstLoopDelayMs(run: () => unknown): Promise<number> {
  // A fresh histogram each time: after reset() Node 20's histogram stopped recording a blocked loop (seen here).
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, 30));
  await run();
  await new Promise((resolve) => setTimeout(resolve, 30)); // the delayed sample is taken after the work
  histogram.disable();
  return histogram.max / 1e6;
}

export async function runTokenBench(): Promise<TokenBenchFigures> {
  let start = performance.now();
  preloadEncoders(["o200k_base"]);
  const o200k = performance.now() - start;
  start = performance.now();
  preloadEncoders(["cl100k_base"]);
  const cl100k = performance.now() - start;

  const pool = new TokenWorkerPool({ size: 1, preload: ["o200k_base"] });
  try {
    await countPromptTokensAsync(promptOf(10_000), "gpt-4o", { pool }); // starts the worker and its encoder
    const sizes = [
      { name: "short chat", words: 90, iterations: 2000 },
      { name: "10k tokens", words: 10_000, iterations: 30 },
      { name: "100k tokens", words: 100_000, iterations: 6 },
    ];
    const counts = [];
    for (const { name, words, iterations } of sizes) {
      const requests = Array.from({ length: Math.min(iterations, 2000) }, (_, i) => promptOf(words, i + 1));
      counts.push({
        name,
        tokens: countPromptTokens(requests[0] as ChatCompletionRequest).tokens,
        syncUs: await timeUs(requests, iterations, (r) => countPromptTokens(r)),
        asyncUs: await timeUs(requests, iterations, (r) => countPromptTokensAsync(r, "gpt-4o", { pool })),
      });
    }
    const big = promptOf(100_000);
    const eventLoopDelayMs = {
      sync: await worstLoopDelayMs(() => countPromptTokens(big)),
      async: await worstLoopDelayMs(() => countPromptTokensAsync(big, "gpt-4o", { pool })),
    };
    return { encoderLoadMs: { o200k_base: o200k, cl100k_base: cl100k }, counts, eventLoopDelayMs };
  } finally {
    await pool.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await runTokenBench();
  const round = (n: number) => Math.round(n * 10) / 10;
  console.log(
    `encoder load: o200k_base ${round(figures.encoderLoadMs.o200k_base)} ms, cl100k_base ${round(figures.encoderLoadMs.cl100k_base)} ms`,
  );
  console.table(
    figures.counts.map((c) => ({
      prompt: c.name,
      tokens: c.tokens,
      "sync µs": round(c.syncUs),
      "async µs": round(c.asyncUs),
    })),
  );
  console.log(
    `max event-loop delay during a 100k-token count: sync ${round(figures.eventLoopDelayMs.sync)} ms, async (worker) ${round(figures.eventLoopDelayMs.async)} ms`,
  );
}
