export { formatResetDuration } from "./headers.js";
export type {
  Admission,
  RateLimit,
  RateLimitRequest,
  RateLimitScope,
  RateLimitsOptions,
  RateLimitUnit,
} from "./limits.js";
export { RateLimits } from "./limits.js";
