// The predict stage's cost per request: prompt tokens counted, completion predicted, priced per deployment.
// Run alone with `npx tsx bench/predict.ts`; bench/run.ts includes it.
import { fileURLToPath } from "node:url";
import { CostEngine } from "../src/cost/engine.js";
import type { ChatCompletionRequest } from "../src/openai/schema.js";
import { createPricing } from "../src/pricing/index.js";
import { AccuracyTracker, CompletionPredictor, PromptTokenEstimator, preloadEncoders } from "../src/tokens/index.js";

export interface PredictBenchFigures {
  /** µs per prediction when the client's messages repeat (system prompts, the load test's one body). */
  repeatedUs: number;
  /** µs per prediction when every user message is new (~100 tokens each): the tokenizer's real work. */
  distinctUs: number;
  /** µs per prediction for an alias with three deployments of different providers. */
  threeDeploymentsUs: number;
}

const deployment = (type: string, model: string) => ({
  id: `${type}/${model}`,
  upstreamModel: model,
  region: undefined,
  provider: { type },
});

function request(user: string): ChatCompletionRequest {
  return {
    model: "bench",
    messages: [
      { role: "system", content: "You are a concise assistant for a billing team." },
      { role: "user", content: user },
    ],
    max_tokens: 256,
  } as ChatCompletionRequest;
}

async function timeUs(n: number, run: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(200, n); i++) await run(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await run(i);
  return ((performance.now() - start) * 1000) / n;
}

export async function runPredictBench(): Promise<PredictBenchFigures> {
  preloadEncoders(["o200k_base"]);
  const pricing = await createPricing({ sources: [] });
  const estimator = new PromptTokenEstimator();
  const engine = new CostEngine(pricing, estimator, new CompletionPredictor(), new AccuracyTracker());
  const mini = deployment("openai", "gpt-4o-mini");
  const one = [mini];
  const three = [mini, deployment("anthropic", "claude-3-5-sonnet-20241022"), deployment("gemini", "gemini-2.0-flash")];
  const words = "the budget of each team is reserved before the call and settled after it".split(" ");
  const distinct = Array.from({ length: 5000 }, (_, i) =>
    request(`${i} ${Array.from({ length: 80 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" ")}`),
  );
  const same = request("Say hello in five words.");
  try {
    return {
      repeatedUs: await timeUs(20_000, () => engine.predict(same, "bench", undefined, one)),
      distinctUs: await timeUs(distinct.length, (i) =>
        engine.predict(distinct[i] as ChatCompletionRequest, "bench", undefined, one),
      ),
      threeDeploymentsUs: await timeUs(20_000, () => engine.predict(same, "bench", undefined, three)),
    };
  } finally {
    await estimator.close();
    pricing.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await runPredictBench());
}
