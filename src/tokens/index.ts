export {
  type AccuracyMetric,
  type AccuracyObserver,
  type AccuracySummary,
  AccuracyTracker,
  relativeError,
} from "./accuracy.js";
export { type AsyncCountOptions, countPromptTokensAsync, INLINE_CHAR_LIMIT, roughPromptTokens } from "./async.js";
export {
  JsonFileRatioStore,
  type ProviderType,
  type RatioState,
  type RatioStore,
  seedRatio,
  TokenCalibrator,
  type TokenCalibratorOptions,
} from "./calibration.js";
export { countTextTokens, type EncodingName, encodingForModel, preloadEncoders } from "./encoding.js";
export { type PromptEstimate, PromptTokenEstimator } from "./estimator.js";
export {
  ASSUMED_UNKNOWN_IMAGE,
  type ImageDetail,
  type ImageSize,
  imageSizeFromDataUrl,
  imageTokens,
} from "./images.js";
export {
  type CompletionPrediction,
  CompletionPredictor,
  type CompletionPredictorOptions,
} from "./predictor.js";
export { countPromptTokens, type PromptTokenCount } from "./prompt.js";
export { TokenWorkerPool, type TokenWorkerPoolOptions } from "./worker-pool.js";
