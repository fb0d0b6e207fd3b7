import { describe, expect, it } from "vitest";
import { formatResetDuration } from "../../src/ratelimit/index.js";

describe("formatResetDuration (OpenAI's x-ratelimit-reset-* format)", () => {
  it.each([
    [0, "0s"],
    [-5, "0s"],
    [17, "17ms"],
    [999.2, "1s"],
    [1000, "1s"],
    [2500, "2.5s"],
    [59_999, "59.999s"],
    [60_000, "1m0s"],
    [360_000, "6m0s"],
    [90_500, "1m30.5s"],
    [3_723_000, "1h2m3s"],
  ])("%d ms reads %s", (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });
});
