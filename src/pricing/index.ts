// Tollgate's pricing service: the only door to price data (genai-prices stays behind it).
export {
  DeploymentPriceSchema,
  GENAI_PRICES_DATA_URL,
  loadPricingFile,
  type PricingConfig,
  PricingConfigSchema,
  PricingFileError,
  PricingFileSchema,
  RefreshSourceSchema,
  validatePricingFile,
} from "./config.js";
export { BUNDLED_SOURCE, GENAI_PRICES_VERSION, GENAI_PROVIDER_IDS } from "./genai.js";
export { importLiteLLM, importOpenRouter } from "./importers.js";
export { createPricing, type PricingOptions, pricingOptionsFromConfig, unknownPrices } from "./service.js";
export type * from "./types.js";
