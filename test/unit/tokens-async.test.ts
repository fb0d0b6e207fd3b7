import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../../src/openai/schema.js";
import { countPromptTokens, countPromptTokensAsync, preloadEncoders, TokenWorkerPool } from "../../src/tokens/index.js";

// ~100k o200k tokens of varied English-like text.
function bigPrompt(): ChatCompletionRequest {
  const words = [
    "budget",
    "gateway",
    "token",
    "the",
    "of",
    "request",
    "stream",
    "cost",
    "alias",
    "upstream",
    "replica",
  ];
  const parts: string[] = [];
  for (let i = 0; i < 100_000; i++) parts.push(words[(i * 7 + (i >> 3)) % words.length] + (i % 17 === 0 ? "." : ""));
  return { model: "gpt-4o", messages: [{ role: "user", content: parts.join(" ") }] } as ChatCompletionRequest;
}

/** Runs `work` while a 1 ms timer chain measures how late the main thread answers; returns the worst lateness. */
async function maxTimerLateness<T>(work: () => Promise<T>): Promise<{ result: T; lateMs: number }> {
  let lateMs = 0;
  let running = true;
  const schedule = () => {
    const due = performance.now() + 1;
    setTimeout(() => {
      if (!running) return;
      lateMs = Math.max(lateMs, performance.now() - due);
      schedule();
    }, 1);
  };
  schedule();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const result = await work();
  await new Promise((resolve) => setTimeout(resolve, 5)); // let a timer held back by the work report
  running = false;
  return { result, lateMs };
}

describe("countPromptTokensAsync", () => {
  const pool = new TokenWorkerPool({ size: 1, preload: ["o200k_base"] });
  const prompt = bigPrompt();

  beforeAll(async () => {
    preloadEncoders(["o200k_base"]);
    // Warm the worker (it builds its own encoder) with a count just over the inline limit.
    await countPromptTokensAsync(
      { model: "gpt-4o", messages: [{ role: "user", content: "x ".repeat(10_000) }] } as ChatCompletionRequest,
      "gpt-4o",
      { pool },
    );
  });
  afterAll(() => pool.close());

  it("gives the same count as the synchronous counter, for small (inline) and big (worker) prompts", async () => {
    const small = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] } as ChatCompletionRequest;
    expect(await countPromptTokensAsync(small, "gpt-4o", { pool })).toEqual(countPromptTokens(small));
    const sync = countPromptTokens(prompt);
    expect(sync.tokens).toBeGreaterThan(90_000);
    expect(await countPromptTokensAsync(prompt, "gpt-4o", { pool })).toEqual(sync);
  });

  it("keeps the event loop answering within a few ms while a 100k-token prompt is counted", async () => {
    // The control: counting on the main thread holds timers back for the whole count (~100 ms).
    const inline = await maxTimerLateness(async () => countPromptTokens(prompt));
    expect(inline.lateMs).toBeGreaterThan(30);
    const offloaded = await maxTimerLateness(() => countPromptTokensAsync(prompt, "gpt-4o", { pool }));
    expect(offloaded.result.tokens).toBe(inline.result.tokens);
    // 1.7-6.2 ms seen here with the 2 vCPUs shared by other jobs (load average ~6); the inline count: 114-295 ms.
    expect(offloaded.lateMs).toBeLessThan(15);
  });

  it("falls back to counting inline when the pool is closed or broken", async () => {
    const broken = new TokenWorkerPool();
    await broken.close();
    const failing = { count: () => Promise.reject(new Error("worker died")) } as unknown as TokenWorkerPool;
    expect(await countPromptTokensAsync(prompt, "gpt-4o", { pool: failing })).toEqual(countPromptTokens(prompt));
  });
});
