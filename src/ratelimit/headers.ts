/**
 * OpenAI's rate-limit headers. The reset value uses OpenAI's (Go-style) duration format: "20ms", "1s",
 * "2.5s", "6m0s", "1h2m3s". https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers
 */
export function formatResetDuration(ms: number): string {
  if (!(ms > 0)) return "0s";
  const wholeMs = Math.ceil(ms);
  if (wholeMs < 1000) return `${wholeMs}ms`;
  const totalSeconds = wholeMs / 1000;
  if (totalSeconds < 60) return `${trimSeconds(totalSeconds)}s`;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = trimSeconds(totalSeconds - hours * 3600 - minutes * 60);
  return hours > 0 ? `${hours}h${minutes}m${seconds}s` : `${minutes}m${seconds}s`;
}

// Up to millisecond precision, without trailing zeros: 2.5 -> "2.5", 6 -> "6".
function trimSeconds(seconds: number): string {
  return String(Math.round(seconds * 1000) / 1000);
}

export interface LimitState {
  limit: number;
  remaining: number;
  resetMs: number;
}

export function setLimitHeaders(
  headers: Record<string, string>,
  unit: "requests" | "tokens",
  state: LimitState | undefined,
): void {
  if (state === undefined) return;
  headers[`x-ratelimit-limit-${unit}`] = String(state.limit);
  headers[`x-ratelimit-remaining-${unit}`] = String(state.remaining);
  headers[`x-ratelimit-reset-${unit}`] = formatResetDuration(state.resetMs);
}
