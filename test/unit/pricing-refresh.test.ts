import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bundledProviders } from "../../src/pricing/genai.js";
import {
  createPricing,
  type PricingObserver,
  type RefreshSource,
  type SourceFormat,
  type TokenCounts,
} from "../../src/pricing/index.js";

const ONE_K: TokenCounts = { input: 1000, cacheRead: 0, cacheWrite: 0, output: 100 };
const litellm = readFileSync("test/fixtures/pricing/litellm.json", "utf8");

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
let hits = 0;
let server: Server;
let base: string;
let cacheDir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(async () => {
  hits = 0;
  cacheDir = await mkdtemp(join(tmpdir(), "tollgate-pricing-"));
});
afterEach(async () => {
  server.closeAllConnections();
  await rm(cacheDir, { recursive: true, force: true });
});

function recorder() {
  const events: string[] = [];
  const observer: PricingObserver = {
    updateSucceeded: (s) => events.push(`ok ${s}`),
    updateFailed: (s, reason) => events.push(`fail ${s} ${reason}`),
    heldBack: (s, detail) => events.push(`held ${s} ${detail}`),
  };
  return { events, observer };
}

const source = (path: string, format: SourceFormat, timeout_ms = 2000): RefreshSource => ({
  url: `${base}${path}`,
  format,
  interval_s: 3600,
  timeout_ms,
  enabled: true,
});

const json =
  (body: string, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(body);
  };

/** The bundled genai-prices data with OpenAI gpt-4o's prices multiplied by `factor`. */
async function genaiDataWithGpt4oTimes(factor: number): Promise<string> {
  const data = JSON.parse(JSON.stringify(await bundledProviders())) as {
    id: string;
    models: { id: string; prices: Record<string, number> }[];
  }[];
  const gpt4o = data.find((p) => p.id === "openai")?.models.find((m) => m.id === "gpt-4o");
  if (!gpt4o) throw new Error("fixture: gpt-4o missing from bundled data");
  for (const k of ["input_mtok", "output_mtok", "cache_read_mtok"])
    gpt4o.prices[k] = (gpt4o.prices[k] as number) * factor;
  return JSON.stringify(data);
}

describe("live price refresh", () => {
  it("retries after a 500 and then uses the live table, saying where it came from", async () => {
    handler = (req, res) => (hits === 1 ? json("oops", 500)(req, res) : json(litellm)(req, res));
    const { events, observer } = recorder();
    const src = source("/litellm.json", "litellm");
    const p = await createPricing({ sources: [src], cacheDir, retries: 2, backoffBaseMs: 1, observer });
    const result = await p.refreshNow();
    expect(result.sources[0]).toMatchObject({ outcome: "updated", active: "live" });
    expect(hits).toBe(2);
    expect(events).toEqual([`ok ${src.url}`]);
    const q = p.quote("anthropic", "claude-sonnet-4-20250514", { ...ONE_K, input: 250_000, output: 1000 });
    // LiteLLM's >200k tier: 250k x $6 + 1k x $22.50.
    expect(q?.costUsd).toBeCloseTo(1.5 + 0.0225, 12);
    expect(q?.tier).toBe(">200000");
    expect(q?.source).toMatch(new RegExp(`^live ${src.url} \\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z$`));
    expect(Object.keys(p.priceAges())).toEqual([src.url]);
    expect(p.priceAges()[src.url]).toBeLessThan(5);
  });

  it("gives up after the timeout on every attempt and keeps the bundled prices", async () => {
    handler = () => undefined; // never answers
    const { events, observer } = recorder();
    const src = source("/hang", "genai-prices", 100);
    const p = await createPricing({ sources: [src], cacheDir, retries: 1, backoffBaseMs: 1, observer });
    const t0 = Date.now();
    const result = await p.refreshNow();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(result.sources[0]).toMatchObject({ outcome: "failed", active: "bundled" });
    expect(result.sources[0]?.detail).toMatch(/timeout after 100 ms/);
    expect(hits).toBe(2);
    expect(events).toEqual([`fail ${src.url} timeout after 100 ms`]);
    expect(p.quote("openai", "gpt-4o", ONE_K)).toMatchObject({ costUsd: 0.0035, source: "genai-prices@0.1.8" });
  });

  it("treats garbage as a failure: not JSON, or JSON of the wrong shape", async () => {
    const { events, observer } = recorder();
    handler = json("{ not json");
    const bad = source("/garbage", "genai-prices");
    const shape = source("/shape", "genai-prices");
    const p = await createPricing({ sources: [bad], cacheDir, retries: 3, backoffBaseMs: 1, observer });
    expect((await p.refreshNow()).sources[0]).toMatchObject({ outcome: "failed", detail: "response is not JSON" });
    expect(hits).toBe(1); // garbage is not retried
    handler = json('{"hello":"world"}');
    const p2 = await createPricing({ sources: [shape], cacheDir, retries: 0, observer });
    expect((await p2.refreshNow()).sources[0]?.outcome).toBe("failed");
    handler = json('{"gpt-4o": 3}');
    const p3 = await createPricing({ sources: [source("/lite", "litellm")], cacheDir, retries: 0, observer });
    expect((await p3.refreshNow()).sources[0]?.outcome).toBe("failed");
    expect(events.filter((e) => e.startsWith("fail"))).toHaveLength(3);
    expect(p2.quote("openai", "gpt-4o", ONE_K)?.source).toBe("genai-prices@0.1.8");
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it("holds back a refresh that moves a price 100x and reports it; applies a 2x one", async () => {
    const { events, observer } = recorder();
    const src = source("/genai.json", "genai-prices");
    handler = json(await genaiDataWithGpt4oTimes(100));
    const p = await createPricing({ sources: [src], cacheDir, retries: 0, maxChangeFactor: 10, observer });
    const held = (await p.refreshNow()).sources[0];
    expect(held).toMatchObject({ outcome: "held_back", active: "bundled" });
    expect(held?.detail).toMatch(/openai\/gpt-4o#0 input_mtok 2\.5 -> 250\b/);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatch(/^held /);
    expect(p.quote("openai", "gpt-4o", ONE_K)).toMatchObject({ costUsd: 0.0035, source: "genai-prices@0.1.8" });
    expect(readdirSync(cacheDir)).toEqual([]);

    handler = json(await genaiDataWithGpt4oTimes(2));
    expect((await p.refreshNow()).sources[0]?.outcome).toBe("updated");
    const q = p.quote("openai", "gpt-4o", ONE_K);
    expect(q?.costUsd).toBeCloseTo(0.007, 12);
    expect(q?.source.startsWith(`live ${src.url} `)).toBe(true);
  });

  it("falls back from live to the last good copy on disk, then to the bundled data", async () => {
    const src = source("/chain.json", "genai-prices");
    handler = json(await genaiDataWithGpt4oTimes(2));
    const first = await createPricing({ sources: [src], cacheDir, retries: 0 });
    await first.refreshNow();
    const liveSource = first.quote("openai", "gpt-4o", ONE_K)?.source;
    expect(readdirSync(cacheDir)).toHaveLength(1);

    // Live down: a new process starts from the disk copy, and a failed refresh keeps it.
    handler = json("down", 503);
    const second = await createPricing({ sources: [src], cacheDir, retries: 0 });
    expect(second.quote("openai", "gpt-4o", ONE_K)).toMatchObject({ source: liveSource });
    expect(second.quote("openai", "gpt-4o", ONE_K)?.costUsd).toBeCloseTo(0.007, 12);
    expect((await second.refreshNow()).sources[0]).toMatchObject({
      outcome: "failed",
      detail: "HTTP 503",
      active: "disk",
    });
    expect(second.quote("openai", "gpt-4o", ONE_K)?.costUsd).toBeCloseTo(0.007, 12);

    // No disk copy either: the pinned bundled data.
    const empty = await mkdtemp(join(tmpdir(), "tollgate-pricing-empty-"));
    try {
      const third = await createPricing({ sources: [src], cacheDir: empty, retries: 0 });
      expect((await third.refreshNow()).sources[0]).toMatchObject({ outcome: "failed", active: "bundled" });
      expect(third.quote("openai", "gpt-4o", ONE_K)).toMatchObject({ costUsd: 0.0035, source: "genai-prices@0.1.8" });
      expect(third.priceAges()).toEqual({});
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("refreshes on start() and stops on stop()", async () => {
    handler = json(litellm);
    const src = source("/loop.json", "litellm");
    const p = await createPricing({ sources: [src], cacheDir, retries: 0 });
    p.start();
    await expect.poll(() => p.quote("azure", "gpt-4o", ONE_K)?.source ?? "").toMatch(/^live /);
    p.stop();
    expect(hits).toBe(1);
  });
});
