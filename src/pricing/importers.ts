import { z } from "zod";
import type { PriceEntry, PriceTier } from "./types.js";

// LiteLLM: https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json ("sample_spec" documents
// the fields). Prices are USD per token; tiers appear as `<field>_above_<N>k_tokens`.
const LiteLLMRowSchema = z
  .object({
    litellm_provider: z.string().optional(),
    mode: z.string().optional(),
    input_cost_per_token: z.number().optional(),
    output_cost_per_token: z.number().optional(),
    cache_read_input_token_cost: z.number().optional(),
    cache_creation_input_token_cost: z.number().optional(),
    max_input_tokens: z.number().optional(),
    max_output_tokens: z.number().optional(),
    max_tokens: z.number().optional(),
    supports_function_calling: z.boolean().optional(),
    supports_vision: z.boolean().optional(),
    supports_response_schema: z.boolean().optional(),
    supports_native_streaming: z.boolean().optional(),
  })
  .loose();

// Every value must be an object (else the file is garbage); a row of the wrong shape is skipped, not fatal, because
// the real file carries documentation rows (sample_spec holds strings) and the odd non-chat entry.
export const LiteLLMTableSchema = z.record(z.string(), z.record(z.string(), z.unknown()));

// OpenRouter: https://openrouter.ai/docs/models (GET /api/v1/models). Prices are strings of USD per token; "-1" means
// variable (routers such as openrouter/auto) and is skipped.
const usdString = z.string().regex(/^-?\d+(\.\d+)?(e-?\d+)?$/i, "expected a decimal string of USD per token");
const OpenRouterModelSchema = z
  .object({
    id: z.string(),
    context_length: z.number().nullish(),
    pricing: z
      .object({
        prompt: usdString,
        completion: usdString,
        input_cache_read: usdString.optional(),
        input_cache_write: usdString.optional(),
      })
      .loose(),
    top_provider: z.object({ max_completion_tokens: z.number().nullish() }).loose().nullish(),
    supported_parameters: z.array(z.string()).nullish(),
    architecture: z
      .object({ input_modalities: z.array(z.string()).nullish() })
      .loose()
      .nullish(),
  })
  .loose();

export const OpenRouterListingSchema = z.object({ data: z.array(OpenRouterModelSchema) }).loose();

const LITELLM_PROVIDERS: [RegExp, string][] = [
  [/^openai$|^text-completion-openai$/, "openai"],
  [/^azure/, "azure"],
  [/^anthropic$/, "anthropic"],
  [/^gemini$|^vertex_ai/, "gemini"],
  [/^bedrock/, "bedrock"],
];
const CHAT_MODES = new Set(["chat", "completion", "responses"]);
const TIER_KEY =
  /^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost)_above_(\d+)k_tokens$/;
const TIER_FIELD: Record<string, keyof Omit<PriceTier, "start">> = {
  input_cost_per_token: "inputPerMTok",
  output_cost_per_token: "outputPerMTok",
  cache_read_input_token_cost: "cacheReadPerMTok",
  cache_creation_input_token_cost: "cacheWritePerMTok",
};
const AWS_REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

const perMTok = (perToken: number | undefined) => (perToken === undefined ? undefined : round(perToken * 1e6));
// Per-token floats (3e-06) times 1e6 leave binary noise (2.9999999999999996); 9 decimals is far below a micro-dollar.
const round = (n: number) => Math.round(n * 1e9) / 1e9;

/** Maps LiteLLM's provider names onto Tollgate provider types; anything else is reached as openai-compatible. */
export function tollgateProviderOfLiteLLM(litellmProvider: string): string {
  for (const [re, type] of LITELLM_PROVIDERS) if (re.test(litellmProvider)) return type;
  return "openai-compatible";
}

/** LiteLLM's model_prices_and_context_window.json -> price entries (chat models with token prices only). */
export function importLiteLLM(data: unknown): PriceEntry[] {
  const table = LiteLLMTableSchema.parse(data);
  const entries: PriceEntry[] = [];
  for (const [key, raw] of Object.entries(table)) {
    if (key === "sample_spec") continue;
    const parsed = LiteLLMRowSchema.safeParse(raw);
    if (!parsed.success) continue;
    const row = parsed.data;
    if (row.mode && !CHAT_MODES.has(row.mode)) continue;
    if (row.input_cost_per_token === undefined || row.output_cost_per_token === undefined) continue;
    const provider = tollgateProviderOfLiteLLM(row.litellm_provider ?? "openai");
    let model = key.toLowerCase();
    let region: string | undefined;
    // Keys such as "azure/gpt-4o", "gemini/gemini-1.5-pro", "bedrock/us-east-1/anthropic.claude-...".
    const parts = model.split("/");
    if (parts.length > 1 && row.litellm_provider && tollgateProviderOfLiteLLM(parts[0] as string) === provider) {
      parts.shift();
      if (parts.length > 1 && AWS_REGION.test(parts[0] as string)) region = parts.shift();
      model = parts.join("/");
    }
    entries.push({
      provider,
      model,
      region,
      inputPerMTok: perMTok(row.input_cost_per_token),
      outputPerMTok: perMTok(row.output_cost_per_token),
      cacheReadPerMTok: perMTok(row.cache_read_input_token_cost),
      cacheWritePerMTok: perMTok(row.cache_creation_input_token_cost),
      tiers: liteLLMTiers(row),
      contextWindow: row.max_input_tokens,
      maxOutput: row.max_output_tokens ?? row.max_tokens,
      capabilities: {
        tools: row.supports_function_calling,
        vision: row.supports_vision,
        jsonMode: row.supports_response_schema,
        streaming: row.supports_native_streaming,
      },
    });
  }
  if (entries.length === 0) throw new Error("no chat model with token prices in the LiteLLM table");
  return entries;
}

function liteLLMTiers(row: Record<string, unknown>): PriceTier[] | undefined {
  const byStart = new Map<number, PriceTier>();
  for (const [key, value] of Object.entries(row)) {
    const m = TIER_KEY.exec(key);
    if (!m || typeof value !== "number") continue;
    const start = Number(m[2]) * 1000;
    const tier = byStart.get(start) ?? { start };
    tier[TIER_FIELD[m[1] as string] as keyof Omit<PriceTier, "start">] = perMTok(value);
    byStart.set(start, tier);
  }
  return byStart.size ? [...byStart.values()].sort((a, b) => a.start - b.start) : undefined;
}

/** OpenRouter's /api/v1/models listing -> price entries for `provider` (openai-compatible: OpenRouter's own ids). */
export function importOpenRouter(data: unknown, provider = "openai-compatible"): PriceEntry[] {
  const listing = OpenRouterListingSchema.parse(data);
  const entries: PriceEntry[] = [];
  for (const m of listing.data) {
    const input = Number(m.pricing.prompt);
    const output = Number(m.pricing.completion);
    if (input < 0 || output < 0) continue;
    const params = new Set(m.supported_parameters ?? []);
    const cacheRead = m.pricing.input_cache_read === undefined ? undefined : Number(m.pricing.input_cache_read);
    const cacheWrite = m.pricing.input_cache_write === undefined ? undefined : Number(m.pricing.input_cache_write);
    entries.push({
      provider,
      model: m.id.toLowerCase(),
      inputPerMTok: perMTok(input),
      outputPerMTok: perMTok(output),
      cacheReadPerMTok: perMTok(cacheRead),
      cacheWritePerMTok: perMTok(cacheWrite),
      contextWindow: m.context_length ?? undefined,
      maxOutput: m.top_provider?.max_completion_tokens ?? undefined,
      capabilities: {
        tools: params.has("tools"),
        vision: m.architecture?.input_modalities?.includes("image") ?? undefined,
        jsonMode: params.has("response_format") || params.has("structured_outputs"),
        streaming: true,
      },
    });
  }
  if (entries.length === 0) throw new Error("no priced model in the OpenRouter listing");
  return entries;
}
