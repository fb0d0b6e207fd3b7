// The semantic tier of the response cache: pure, in-memory modules. The cache stage wires it; the defaults
// below were chosen with bench/eval-cache.ts, so the gateway and the evaluation use the same numbers.
import { NGRAM_EMBEDDER_DEFAULTS } from "./embedder.js";
import { ERROR_BOUND_DEFAULTS } from "./error-bound.js";

export { dot, type Embedder, NGRAM_EMBEDDER_DEFAULTS, NgramEmbedder, type NgramEmbedderOptions } from "./embedder.js";
export {
  type CheckCounts,
  EntryErrorBound,
  ERROR_BOUND_DEFAULTS,
  type ErrorBoundOptions,
  estimateFalseHitRate,
} from "./error-bound.js";
export {
  compareGuardFeatures,
  contentKey,
  extractGuardFeatures,
  type GuardFeatures,
  type GuardOptions,
  type GuardVerdict,
  guardsMatch,
} from "./guards.js";
export { FlatIndex, type VectorHit, type VectorIndex } from "./index-flat.js";
export { GrowingIndex, HnswIndex } from "./index-hnsw.js";
export {
  OnnxEmbedder,
  type OnnxEmbedderOptions,
  OnnxModelError,
  type OnnxPooling,
  requiredModelFiles,
} from "./onnx-embedder.js";
export { RemoteEmbedder } from "./remote-embedder.js";
export {
  DEFAULT_MAX_ENTRIES_PER_NAMESPACE,
  DEFAULT_SIMILARITY_THRESHOLD,
  DEFAULT_VERIFY_SHARE,
  isEligible,
  MAX_ELIGIBLE_MESSAGES,
  MAX_ELIGIBLE_PROMPT_TOKENS,
  type PreparedPrompt,
  SemanticCache,
  type SemanticCacheOptions,
  type SemanticHit,
} from "./semantic-cache.js";
export { contentWords, normalizeText, stemWord, tokenize } from "./tokenize.js";

/** The default embedder's vector size (NgramEmbedder). */
export const DEFAULT_EMBEDDING_DIMENSIONS: number = NGRAM_EMBEDDER_DEFAULTS.dimensions;
/** Per-entry false-hit target of the error bound. */
export const DEFAULT_DELTA: number = ERROR_BOUND_DEFAULTS.delta;
