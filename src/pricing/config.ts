import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { Capabilities, PriceEntry, PriceTable, QualityScore } from "./types.js";

/** genai-prices' own data file, refreshed by its maintainers. */
export const GENAI_PRICES_DATA_URL =
  "https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/new_data/v2/data.json";

const perMTok = z.number().nonnegative();

export const RefreshSourceSchema = z
  .object({
    url: z.url().describe("Where to fetch the price table."),
    format: z
      .enum(["genai-prices", "litellm", "openrouter"])
      .default("genai-prices")
      .describe("genai-prices data.json, LiteLLM model_prices_and_context_window.json or OpenRouter /api/v1/models."),
    name: z.string().optional().describe("Label in metrics and logs; defaults to the URL."),
    interval_s: z.number().int().positive().default(3600).describe("Seconds between refreshes."),
    timeout_ms: z.number().int().positive().default(10_000).describe("Timeout of one fetch attempt."),
    enabled: z.boolean().default(true).describe("Set false to keep the entry but not fetch it."),
    providers: z
      .array(z.string())
      .optional()
      .describe("Take only these provider types' prices from this source (all when unset)."),
  })
  .strict();

/** The `pricing:` section of routes.yaml (merged into src/config/schema.ts by the lead). */
export const PricingConfigSchema = z
  .object({
    sources: z
      .array(RefreshSourceSchema)
      .default([
        { url: GENAI_PRICES_DATA_URL, format: "genai-prices", interval_s: 3600, timeout_ms: 10_000, enabled: true },
      ])
      .describe("Live price sources, tried in order; fallback is the last good copy on disk, then the bundled data."),
    cache_dir: z
      .string()
      .default(".tollgate/pricing-cache")
      .describe("Where the last good copy of each live source is kept."),
    max_change_factor: z
      .number()
      .gt(1)
      .default(10)
      .describe("A refresh that moves any known price by more than this factor (up or down) is held back."),
    retries: z.number().int().min(0).default(3).describe("Retries per refresh, exponential backoff with full jitter."),
    unknown_price: z
      .enum(["block", "allow"])
      .default("allow")
      .describe("Requests to a model with no known price: block (400) or allow (cost recorded as unknown)."),
    batch_discount: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe("Fraction taken off batch requests (providers' batch APIs bill 50% less)."),
    files: z
      .array(z.string())
      .default(["pricing/overrides.yaml", "pricing/models.yaml"])
      .describe("Override and model-data files (YAML or JSON) layered over the price database."),
  })
  .strict();

export type PricingConfig = z.infer<typeof PricingConfigSchema>;

/** A deployment's negotiated price in routes.yaml; any price left out comes from the database. */
export const DeploymentPriceSchema = z
  .object({
    input_per_mtok: perMTok.optional().describe("USD per million input tokens."),
    output_per_mtok: perMTok.optional().describe("USD per million output tokens."),
    cache_read_per_mtok: perMTok.optional().describe("USD per million cache-read tokens."),
    cache_write_per_mtok: perMTok.optional().describe("USD per million cache-write tokens."),
    discount: z.number().min(0).max(1).optional().describe("Fraction off the price underneath (0.2 = 20% off)."),
  })
  .strict();

const OverrideRowSchema = z
  .object({
    provider: z.string().describe("Provider type: openai, azure, anthropic, gemini, bedrock, openai-compatible."),
    model: z.string().describe("Model name as clients send it."),
    region: z.string().optional().describe("Applies only to this region (e.g. a Bedrock region)."),
    deployment: z.string().optional().describe("Applies only to this routes.yaml deployment."),
    input_per_mtok: perMTok.optional(),
    output_per_mtok: perMTok.optional(),
    cache_read_per_mtok: perMTok.optional(),
    cache_write_per_mtok: perMTok.optional(),
    discount: z.number().min(0).max(1).optional(),
    note: z.string().optional().describe("Why: contract, volume tier, price page."),
  })
  .strict();

const CapabilitiesSchema = z
  .object({
    tools: z.boolean().optional(),
    vision: z.boolean().optional(),
    json_mode: z.boolean().optional(),
    streaming: z.boolean().optional(),
  })
  .strict();

const ModelRowSchema = z
  .object({
    model: z.string().describe("Model name; also matches dated variants (gpt-4o-2024-08-06)."),
    providers: z.array(z.string()).optional().describe("Provider types this row applies to (all when unset)."),
    context_window: z.number().int().positive().optional(),
    max_output: z.number().int().positive().optional(),
    capabilities: CapabilitiesSchema.optional(),
    quality: z
      .object({ score: z.number(), source: z.string().min(1).describe("Leaderboard or benchmark and its date.") })
      .strict()
      .optional(),
  })
  .strict();

/** A file under pricing/: price overrides, model data, or both. */
export const PricingFileSchema = z
  .object({
    overrides: z.array(OverrideRowSchema).default([]),
    models: z.array(ModelRowSchema).default([]),
  })
  .strict();

export type PricingFile = z.infer<typeof PricingFileSchema>;

export interface ModelData {
  model: string;
  providers?: string[];
  contextWindow?: number;
  maxOutput?: number;
  capabilities?: Capabilities;
  quality?: QualityScore;
}

export class PricingFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid pricing file:\n  ${problems.join("\n  ")}`);
  }
}

/** Validates parsed file content; errors name the file, the path and what was expected. */
export function validatePricingFile(file: string, data: unknown): PricingFile {
  const parsed = PricingFileSchema.safeParse(data ?? {});
  if (parsed.success) return parsed.data;
  throw new PricingFileError(
    file,
    parsed.error.issues.map((i) => `${file}: ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`),
  );
}

/** Reads and validates one pricing file (YAML or JSON; YAML is a superset). Start-up only. */
export async function loadPricingFile(file: string): Promise<{ overrides: PriceTable; models: ModelData[] }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new PricingFileError(file, [
      `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new PricingFileError(file, [`${file}: not valid YAML/JSON: ${(err as Error).message}`]);
  }
  const data = validatePricingFile(file, raw);
  return {
    overrides: { source: `override ${file}`, entries: data.overrides.map(overrideEntry) },
    models: data.models.map((m) => ({
      model: m.model.toLowerCase(),
      providers: m.providers,
      contextWindow: m.context_window,
      maxOutput: m.max_output,
      capabilities: m.capabilities && {
        tools: m.capabilities.tools,
        vision: m.capabilities.vision,
        jsonMode: m.capabilities.json_mode,
        streaming: m.capabilities.streaming,
      },
      quality: m.quality,
    })),
  };
}

function overrideEntry(row: z.infer<typeof OverrideRowSchema>): PriceEntry {
  return {
    provider: row.provider,
    model: row.model.toLowerCase(),
    region: row.region,
    deployment: row.deployment,
    inputPerMTok: row.input_per_mtok,
    outputPerMTok: row.output_per_mtok,
    cacheReadPerMTok: row.cache_read_per_mtok,
    cacheWritePerMTok: row.cache_write_per_mtok,
    discount: row.discount,
  };
}
