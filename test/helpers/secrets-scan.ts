import { expect } from "vitest";

// A raw key: tg- and a run of base62 digits. maskKey's form ("tg-ab***wxyz") does not match.
const RAW_KEY = /tg-[0-9A-Za-z]{12,}/;

/** Asserts that no log line holds a raw tg- key or any of `secrets` (keys, the master key, webhook secrets). */
export function expectNoSecretsInLogs(lines: readonly string[], secrets: readonly string[]): void {
  expect(lines.length).toBeGreaterThan(0);
  const leaks = lines.filter((line) => RAW_KEY.test(line) || secrets.some((s) => line.includes(s)));
  expect(leaks).toEqual([]);
}

/** The in-process gateway's parsed log lines, back as text. */
export function logText(logs: readonly Record<string, unknown>[]): string[] {
  return logs.map((l) => JSON.stringify(l));
}
