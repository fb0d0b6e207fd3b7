// Summaries, the printed table, the pass/fail targets and the JSON file.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type LoadRun, median, percentile } from "./measure.js";

/** In table order: the mock itself, the bare proxy, the hono floor (hono-proxy.ts), Tollgate. */
export const TARGETS = ["direct", "bare", "hono-floor", "tollgate"] as const;
export type TargetName = (typeof TARGETS)[number];

/**
 * Provider translation, one connection: Tollgate in front of each mock, and each mock direct with its native
 * request, so that the mocks' own speed can be subtracted.
 */
export const TRANSLATION_TARGETS = [
  "direct openai",
  "tollgate->openai",
  "direct anthropic",
  "tollgate->anthropic",
  "direct gemini",
  "tollgate->gemini",
  "direct bedrock",
  "tollgate->bedrock",
] as const;
export type TranslationTargetName = (typeof TRANSLATION_TARGETS)[number];
export const PROVIDERS = ["anthropic", "gemini", "bedrock"] as const;
export type Provider = (typeof PROVIDERS)[number];
export type TranslationSeq = Record<
  "translation latency 1conn" | "translation ttfb 1conn",
  Record<TranslationTargetName, SeqSummary>
>;

/** (Tollgate->X - direct X) - (Tollgate->OpenAI - direct OpenAI): what translating to X adds over pass-through. */
export function translationOverhead(
  byTarget: Record<TranslationTargetName, SeqSummary>,
  provider: Provider,
  stat: "p50" | "p99" = "p50",
): number {
  const added = (name: "openai" | Provider) => byTarget[`tollgate->${name}`][stat] - byTarget[`direct ${name}`][stat];
  return added(provider) - added("openai");
}

export interface LoadSummary {
  rps: number;
  p50: number;
  p99: number;
  proxyCpuUs: number | undefined;
  mockCpuUs: number;
  loadgenCpuUs: number;
  /** (max - min) / median of the rounds' requests/s, in %. */
  rpsSpreadPct: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rounds: LoadRun[];
}

export interface SeqSummary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export interface Check {
  name: string;
  value: number;
  target: string;
  pass: boolean;
}

export function summarizeLoad(rounds: LoadRun[]): LoadSummary {
  const med = (f: (r: LoadRun) => number) => median(rounds.map(f));
  const rps = rounds.map((r) => r.rps);
  const sum = (f: (r: LoadRun) => number) => rounds.reduce((s, r) => s + f(r), 0);
  return {
    rps: med((r) => r.rps),
    p50: med((r) => r.p50),
    p99: med((r) => r.p99),
    proxyCpuUs: rounds[0]?.proxyCpuUs === undefined ? undefined : med((r) => r.proxyCpuUs ?? Number.NaN),
    mockCpuUs: med((r) => r.mockCpuUs),
    loadgenCpuUs: med((r) => r.loadgenCpuUs),
    rpsSpreadPct: ((Math.max(...rps) - Math.min(...rps)) / median(rps)) * 100,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    rounds,
  };
}

export function summarizeSeq(samples: number[]): SeqSummary {
  return {
    n: samples.length,
    p50: median(samples),
    p99: percentile(samples, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

const f = (n: number | undefined, digits: number) => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits));

export function printTable(
  load: Record<string, Record<TargetName, LoadSummary>>,
  seq: Record<string, Record<TargetName, SeqSummary>>,
  translation?: TranslationSeq,
): void {
  const head = [
    "scenario",
    "target",
    "req/s",
    "p50 ms",
    "p99 ms",
    "spread",
    "proxy µs/req",
    "mock µs/req",
    "loadgen µs/req",
    "non2xx/err",
  ];
  const rows: string[][] = [];
  for (const [scenario, byTarget] of Object.entries(load)) {
    for (const t of TARGETS) {
      const s = byTarget[t];
      rows.push([
        scenario,
        t,
        f(s.rps, 0),
        f(s.p50, 0),
        f(s.p99, 0),
        `${f(s.rpsSpreadPct, 1)}%`,
        f(s.proxyCpuUs, 0),
        f(s.mockCpuUs, 0),
        f(s.loadgenCpuUs, 0),
        `${s.non2xx}/${s.errors + s.timeouts}`,
      ]);
    }
  }
  for (const [scenario, byTarget] of Object.entries(seq)) {
    for (const t of TARGETS) {
      const s = byTarget[t];
      rows.push([scenario, t, "-", f(s.p50, 3), f(s.p99, 3), `n=${s.n}`, "-", "-", "-", "0/0"]);
    }
  }
  for (const [scenario, byTarget] of Object.entries(translation ?? {})) {
    for (const t of TRANSLATION_TARGETS) {
      const s = byTarget[t];
      rows.push([scenario, t, "-", f(s.p50, 3), f(s.p99, 3), `n=${s.n}`, "-", "-", "-", "0/0"]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

export function printChecks(info: [string, string][], checks: Check[]): void {
  const width = Math.max(...[...info.map(([k]) => k), ...checks.map((c) => c.name)].map((s) => s.length));
  for (const [k, v] of info) console.log(`${k.padEnd(width)}  ${v}`);
  for (const c of checks) {
    console.log(
      `${c.name.padEnd(width)}  ${f(c.value, 3).padStart(8)}   target ${c.target.padEnd(10)} ${c.pass ? "PASS" : "FAIL"}`,
    );
  }
}

export function writeResults<T extends { meta: { date: string } }>(dir: string, results: T): string {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(results, null, 2)}\n`;
  const file = join(dir, `${results.meta.date.replace(/:/g, "-")}.json`);
  writeFileSync(file, text);
  writeFileSync(join(dir, "latest.json"), text);
  return file;
}
