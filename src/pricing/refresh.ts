import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { SourceFormat } from "./types.js";

/** What a fetch that failed after all attempts says, and whether it was worth retrying. */
export class FetchFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface FetchOptions {
  timeoutMs: number;
  retries: number;
  /** First backoff ceiling; doubles per attempt (full jitter: a random wait in [0, ceiling]). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  random?: () => number;
}

/** GET a JSON document with a timeout per attempt and retries with exponential backoff and full jitter. */
export async function fetchJson(url: string, opts: FetchOptions): Promise<unknown> {
  const random = opts.random ?? Math.random;
  let last: FetchFailure = new FetchFailure("no attempt made", false);
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    if (attempt > 0) {
      const ceiling = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, random() * ceiling));
    }
    try {
      return await fetchOnce(url, opts.timeoutMs);
    } catch (err) {
      last = err instanceof FetchFailure ? err : new FetchFailure(String(err), true);
      if (!last.retryable) break;
    }
  }
  throw last;
}

async function fetchOnce(url: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  } catch (err) {
    const e = err as Error;
    const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
    throw new FetchFailure(timedOut ? `timeout after ${timeoutMs} ms` : `network: ${e.message}`, true);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
    throw new FetchFailure(timedOut ? `timeout after ${timeoutMs} ms reading body` : `body: ${e.message}`, true);
  }
  if (!res.ok) {
    // 429 and 5xx may pass; other 4xx (a wrong URL) will not.
    throw new FetchFailure(`HTTP ${res.status}`, res.status === 429 || res.status >= 500);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new FetchFailure("response is not JSON", false);
  }
}

const DiskCopySchema = z.object({
  url: z.string(),
  format: z.enum(["genai-prices", "litellm", "openrouter"]),
  fetchedAt: z.string(),
  body: z.unknown(),
});

export type DiskCopy = z.infer<typeof DiskCopySchema>;

/** One file per source URL, so two sources never overwrite each other. */
export function diskCopyPath(cacheDir: string, url: string): string {
  return join(cacheDir, `${createHash("sha256").update(url).digest("hex").slice(0, 16)}.json`);
}

export async function readDiskCopy(cacheDir: string, url: string, format: SourceFormat): Promise<DiskCopy | undefined> {
  let text: string;
  try {
    text = await readFile(diskCopyPath(cacheDir, url), "utf8");
  } catch {
    return undefined;
  }
  try {
    const copy = DiskCopySchema.parse(JSON.parse(text));
    return copy.url === url && copy.format === format ? copy : undefined;
  } catch {
    return undefined;
  }
}

/** Write-then-rename so a crash mid-write never leaves a torn copy. */
export async function writeDiskCopy(cacheDir: string, copy: DiskCopy): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const path = diskCopyPath(cacheDir, copy.url);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(copy));
  await rename(tmp, path);
}

export type FlatPrices = Map<string, Record<string, number>>;

/** Prices that moved by more than `factor` either way between two flat views; keys missing on one side are skipped. */
export function suspiciousChanges(before: FlatPrices, after: FlatPrices, factor: number, limit = 5): string[] {
  const found: string[] = [];
  for (const [key, next] of after) {
    const prev = before.get(key);
    if (!prev) continue;
    for (const [field, n] of Object.entries(next)) {
      const p = prev[field];
      if (p === undefined || p === n) continue;
      const ratio = Math.min(p, n) === 0 ? Number.POSITIVE_INFINITY : Math.max(p, n) / Math.min(p, n);
      if (ratio > factor) {
        found.push(`${key} ${field} ${p} -> ${n}`);
        if (found.length >= limit) return found;
      }
    }
  }
  return found;
}
