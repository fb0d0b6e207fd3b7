import type { ProviderConfig } from "../../config/schema.js";
import { baseHeaders, OpenAIFormatClient, type OpenAIWire } from "../openai/index.js";
import type { ProviderFactory } from "../types.js";

// https://learn.microsoft.com/azure/ai-services/openai/reference: the deployment is in the path, the version in
// the query, the key in `api-key` (or an Entra ID token as a bearer); bodies and answers are OpenAI's.
const DEFAULT_API_VERSION = "2024-10-21";

function azureWire(config: ProviderConfig): OpenAIWire {
  const url = new URL(config.base_url as string); // the schema requires it for azure
  const root = url.pathname.replace(/\/+$/, "");
  const base = root.endsWith("/openai") ? root : `${root}/openai`;
  const query = `?api-version=${encodeURIComponent(config.api_version ?? DEFAULT_API_VERSION)}`;
  const paths = new Map<string, string>();
  const pathFor = (deployment: string, operation: string) => {
    const key = `${operation} ${deployment}`;
    let path = paths.get(key);
    if (path === undefined) {
      path = `${base}/deployments/${encodeURIComponent(deployment)}/${operation}${query}`;
      paths.set(key, path);
    }
    return path;
  };
  const headers = baseHeaders(config);
  if (config.bearer_token) headers.authorization = `Bearer ${config.bearer_token}`;
  else if (config.api_key) headers["api-key"] = config.api_key;
  return {
    origin: url.origin,
    chatPath: (deployment) => pathFor(deployment, "chat/completions"),
    embeddingsPath: (deployment) => pathFor(deployment, "embeddings"),
    headers,
  };
}

/** Azure OpenAI: the deployment named by the alias's `model`, otherwise OpenAI's format end to end. */
export const azureProvider: ProviderFactory = {
  create: (name, config, timeouts) => new OpenAIFormatClient(name, "azure", config, timeouts, azureWire(config)),
};
