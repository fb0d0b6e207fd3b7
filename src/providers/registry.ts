import type { ProviderConfig, ProviderType, Timeouts } from "../config/schema.js";
import { GatewayError } from "../errors.js";
import { anthropicProvider } from "./anthropic/index.js";
import { azureProvider } from "./azure/index.js";
import { bedrockProvider } from "./bedrock/index.js";
import { geminiProvider } from "./gemini/index.js";
import { mockProvider } from "./mock/index.js";
import { openaiProvider } from "./openai/index.js";
import type { ProviderClient, ProviderFactory } from "./types.js";

/** Adding a provider: one folder under src/providers/ and one line here. */
const FACTORIES: Record<ProviderType, ProviderFactory> = {
  openai: openaiProvider,
  "openai-compatible": openaiProvider,
  azure: azureProvider,
  anthropic: anthropicProvider,
  gemini: geminiProvider,
  bedrock: bedrockProvider,
  mock: mockProvider,
};

/** Types that need an API key to be usable; the others (local servers, mock) work without one. */
const NEEDS_KEY: ReadonlySet<ProviderType> = new Set(["openai", "azure", "anthropic", "gemini"]);

export function createProviderClient(
  name: string,
  config: ProviderConfig,
  timeouts: Timeouts,
  missingKeyVariable: string | undefined,
): ProviderClient {
  const hasCredential = config.api_key !== undefined || config.bearer_token !== undefined;
  if (!hasCredential && (missingKeyVariable !== undefined || NEEDS_KEY.has(config.type))) {
    return unconfigured(name, config.type, missingKeyVariable);
  }
  return FACTORIES[config.type].create(name, config, timeouts);
}

/** A declared provider without its key: every call explains what to set, nothing crashes at start. */
function unconfigured(name: string, type: ProviderType, variable: string | undefined): ProviderClient {
  const how = variable
    ? `set the environment variable ${variable}`
    : `set providers.${name}.api_key in routes.yaml or ${name}.api_key in secrets.yaml`;
  const unavailable = `Provider '${name}' is not configured: ${how}`;
  const fail = async (): Promise<never> => {
    throw new GatewayError(unavailable, {
      status: 503,
      type: "api_error",
      code: "provider_not_configured",
    });
  };
  return { name, type, unavailable, chat: fail, embeddings: fail, close: async () => {} };
}
