import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import {
  type LedgerObserver,
  listRecords,
  queryUsage,
  storeSink,
  toCsv,
  type UsageLedger,
  type UsageRecord,
  type UsageSink,
} from "../../src/usage/index.js";
import { UsageLedger as Ledger } from "../../src/usage/ledger.js";
import { BACKENDS, type Backend, makeBackend, usageRecord, waitFor } from "./harness.js";

const quietLog = { warn: () => {}, error: () => {} };

/** Counts what the ledger reports, for assertions. */
function counters() {
  const c = { written: 0, failed: 0, spooled: 0, replayed: 0, dropped: 0 };
  const observer: LedgerObserver = {
    written: (n) => {
      c.written += n;
    },
    failed: (n) => {
      c.failed += n;
    },
    spooled: (n) => {
      c.spooled += n;
    },
    replayed: (n) => {
      c.replayed += n;
    },
    dropped: (n) => {
      c.dropped += n;
    },
  };
  return { c, observer };
}

/** A sink that throws while `down` is set: the database unreachable, as the ledger sees it. */
function flakySink(inner: UsageSink) {
  const state = { down: false };
  const sink: UsageSink = {
    insert: (records) =>
      state.down ? Promise.reject(new Error("connect ECONNREFUSED (simulated)")) : inner.insert(records),
    isRowRejection: inner.isRowRejection,
  };
  return { state, sink };
}

async function idsIn(store: Store): Promise<string[]> {
  return (await listRecords(store, {}, 1_000_000)).map((r) => r.requestId);
}

function expectExactlyOnce(stored: string[], expected: string[]) {
  expect(stored.length).toBe(expected.length);
  expect(new Set(stored)).toEqual(new Set(expected));
}

describe.each(BACKENDS)("usage ledger on %s", (name) => {
  let backend: Backend;
  let store: Store;
  let n = 0;

  beforeAll(async () => {
    backend = await makeBackend(name);
    store = backend.open();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.cleanup();
  });

  /** Every test writes its own key id so its rows can be told apart. */
  const freshKey = () => `k${++n}-${Math.random().toString(36).slice(2, 8)}`;
  const spoolDir = () => join(backend.dir, `spool-${++n}`);

  async function ledgerOn(s: Store, over: Partial<Parameters<typeof Ledger.open>[0]> = {}): Promise<UsageLedger> {
    return Ledger.open({ store: s, spoolDir: spoolDir(), closeStore: false, log: quietLog, ...over });
  }

  it("migrates twice without harm", async () => {
    await store.migrate();
    expect(await listRecords(store, { keyId: "nobody" })).toEqual([]);
  });

  it("writes one record per outcome, every field as recorded", async () => {
    const keyId = freshKey();
    const outcomes = ["ok", "error", "client_abort", "upstream_cut", "cache_hit", "budget_block"];
    const records: UsageRecord[] = outcomes.map((outcome, i) =>
      usageRecord({
        keyId,
        ts: Date.UTC(2026, 10, 25, 12, 0, i),
        outcome,
        status: outcome === "ok" || outcome === "cache_hit" ? 200 : outcome === "budget_block" ? 402 : 502,
        stream: i % 2 === 0,
        endpoint: i === 5 ? "embeddings" : "chat",
        endUser: "user-1",
        region: "eu-west-1",
        cachedTokens: i,
        cacheWriteTokens: 2 * i,
        cacheDecision: outcome === "cache_hit" ? "hit" : "miss",
        routeDecision: "cheapest",
        ...(outcome === "ok" ? {} : { errorType: `${outcome}_type` }),
      }),
    );
    const ledger = await ledgerOn(store);
    for (const r of records) ledger.record(r);
    await ledger.flush();
    expect(ledger.pending()).toBe(0);
    expect(await listRecords(store, { keyId })).toEqual(records);
    await ledger.close();
  });

  it("stores text and numbers as given: quotes, backslashes, braces, the word NULL, unicode, tiny costs", async () => {
    const keyId = freshKey();
    const odd = usageRecord({
      keyId,
      endUser: "NULL",
      routeDecision: 'a "quoted", {braced} \\ back\\slash\nnewline',
      errorType: "ümlaut ✓ 日本",
      cacheDecision: "",
      estimatedCostUsd: 1.5e-9,
      actualCostUsd: 0,
      ts: 4102444800000,
    });
    const ledger = await ledgerOn(store);
    ledger.record(odd);
    await ledger.close();
    expect(await listRecords(store, { keyId })).toEqual([odd]);
  });

  it("flushes on its own, on the timer and at the batch size", async () => {
    const keyId = freshKey();
    const ledger = await ledgerOn(store, { flushIntervalMs: 20, batchSize: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const r = usageRecord({ keyId });
      ids.push(r.requestId);
      ledger.record(r);
    }
    await waitFor(async () => (await idsIn(store)).filter((id) => ids.includes(id)).length === 120, "120 rows");
    expectExactlyOnce(
      (await listRecords(store, { keyId }, 1000)).map((r) => r.requestId),
      ids,
    );
    await ledger.close();
  });

  it("stores a request id once, recorded twice or replayed as a whole batch", async () => {
    const keyId = freshKey();
    const a = usageRecord({ keyId });
    const b = usageRecord({ keyId });
    const ledger = await ledgerOn(store);
    ledger.record(a);
    ledger.record(a);
    await ledger.flush();
    ledger.record({ ...a, promptTokens: 999 });
    ledger.record(b);
    await ledger.flush();
    await ledger.close();
    const sink = storeSink(store);
    await sink.insert([a, b]);
    await sink.insert([b, a, b]);
    const rows = await listRecords(store, { keyId });
    expect(rows.map((r) => r.requestId).sort()).toEqual([a.requestId, b.requestId].sort());
    expect(rows.find((r) => r.requestId === a.requestId)?.promptTokens).toBe(100);
  });

  describe("query", () => {
    const orgId = `org-q-${Math.random().toString(36).slice(2, 8)}`;
    const h = (d: number, hour: number, min = 0) => Date.UTC(2026, 10, d, hour, min);
    const data = [
      { ts: h(24, 10), keyId: "k1", teamId: "t1", provider: "openai", upstreamModel: "gpt-4o", cost: 1 },
      { ts: h(24, 10, 30), keyId: "k1", teamId: "t1", provider: "openai", upstreamModel: "gpt-4o", cost: 2 },
      { ts: h(24, 11), keyId: "k2", teamId: "t1", provider: "anthropic", upstreamModel: "claude", cost: 4 },
      { ts: h(25, 0), keyId: "k2", teamId: "t2", provider: "anthropic", upstreamModel: "claude", cost: 8 },
      { ts: h(25, 23, 59), keyId: "k3", teamId: "t2", provider: undefined, upstreamModel: undefined, cost: 16 },
    ];

    beforeAll(async () => {
      const ledger = await ledgerOn(store);
      data.forEach((d, i) => {
        ledger.record(
          usageRecord({
            orgId,
            ts: d.ts,
            keyId: d.keyId,
            teamId: d.teamId,
            provider: d.provider,
            upstreamModel: d.upstreamModel,
            alias: "smart",
            promptTokens: 10 * (i + 1),
            completionTokens: i + 1,
            cachedTokens: i,
            actualCostUsd: d.cost,
            estimatedCostUsd: d.cost * 2,
            outcome: d.provider ? "ok" : "budget_block",
          }),
        );
      });
      await ledger.close();
    });

    it("totals without grouping", async () => {
      expect(await queryUsage(store, { orgId })).toEqual([
        {
          group: null,
          requests: 5,
          promptTokens: 150,
          completionTokens: 15,
          cachedTokens: 10,
          costUsd: 31,
          estimatedCostUsd: 62,
        },
      ]);
    });

    it.each([
      [
        "day",
        [
          ["2026-11-24T00:00:00.000Z", 3, 7],
          ["2026-11-25T00:00:00.000Z", 2, 24],
        ],
      ],
      [
        "hour",
        [
          ["2026-11-24T10:00:00.000Z", 2, 3],
          ["2026-11-24T11:00:00.000Z", 1, 4],
          ["2026-11-25T00:00:00.000Z", 1, 8],
          ["2026-11-25T23:00:00.000Z", 1, 16],
        ],
      ],
      [
        "key",
        [
          ["k1", 2, 3],
          ["k2", 2, 12],
          ["k3", 1, 16],
        ],
      ],
      [
        "team",
        [
          ["t1", 3, 7],
          ["t2", 2, 24],
        ],
      ],
      [
        "model",
        [
          ["claude", 2, 12],
          ["gpt-4o", 2, 3],
          ["smart", 1, 16],
        ],
      ],
      [
        "provider",
        [
          ["anthropic", 2, 12],
          ["openai", 2, 3],
          [null, 1, 16],
        ],
      ],
    ] as const)("groups by %s", async (groupBy, expected) => {
      const rows = await queryUsage(store, { orgId, groupBy });
      expect(rows.map((r) => [r.group, r.requests, r.costUsd])).toEqual(expected);
      expect(rows.reduce((s, r) => s + r.estimatedCostUsd, 0)).toBe(62);
    });

    it("filters by time range, key, team, org, alias and provider", async () => {
      const cost = async (f: Parameters<typeof queryUsage>[1]) =>
        (await queryUsage(store, { orgId, ...f }))[0]?.costUsd;
      expect(await cost({ from: h(24, 10, 30), to: h(25, 0) })).toBe(6);
      expect(await cost({ from: new Date(h(25, 0)) })).toBe(24);
      expect(await cost({ keyId: "k2" })).toBe(12);
      expect(await cost({ teamId: "t1" })).toBe(7);
      expect(await cost({ provider: "anthropic", teamId: "t2" })).toBe(8);
      expect(await cost({ alias: "smart" })).toBe(31);
      expect(await cost({ alias: "other" })).toBe(0);
      expect(await queryUsage(store, { orgId: "no-such-org", groupBy: "day" })).toEqual([]);
      expect((await listRecords(store, { orgId, keyId: "k1" })).map((r) => r.actualCostUsd)).toEqual([1, 2]);
      expect(await listRecords(store, { orgId }, 2)).toHaveLength(2);
    });
  });

  it("loses no record while the database is unreachable, and stores each once after", async () => {
    const keyId = freshKey();
    const { c, observer } = counters();
    const { state, sink } = flakySink(storeSink(store));
    const ledger = await ledgerOn(store, { sink, observer, flushIntervalMs: 10, batchSize: 25, retryBaseMs: 20 });
    const ids: string[] = [];
    const recordSome = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const r = usageRecord({ keyId });
        ids.push(r.requestId);
        ledger.record(r);
        if (i % 10 === 0) await new Promise((res) => setTimeout(res, 1));
      }
    };
    await recordSome(100);
    state.down = true;
    await recordSome(300);
    await ledger.flush();
    expect(c.spooled).toBeGreaterThan(0);
    expect(ledger.spoolBytes()).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 200)); // some replays fail and back off
    state.down = false;
    await recordSome(100);
    await waitFor(() => ledger.pending() === 0 && ledger.spoolBytes() === 0, "spool drained");
    await ledger.flush();
    expectExactlyOnce(
      (await listRecords(store, { keyId }, 10_000)).map((r) => r.requestId),
      ids,
    );
    expect(c.replayed).toBeGreaterThanOrEqual(c.spooled);
    expect(c.dropped).toBe(0);
    await ledger.close();
  });

  it("drops only a row the database rejects as data, and retries every other error", async () => {
    const keyId = freshKey();
    const { c, observer } = counters();
    const inner = storeSink(store);
    const poison = usageRecord({ keyId });
    const state = { tableMissing: true };
    const sink: UsageSink = {
      insert(records) {
        // First the table is missing (migrations not run yet): retried, nothing dropped. Then one row is refused.
        if (state.tableMissing)
          return Promise.reject(Object.assign(new Error("relation does not exist"), { code: "42P01" }));
        if (records.some((r) => r.requestId === poison.requestId)) {
          return Promise.reject(Object.assign(new Error("violates check constraint"), { code: "23514" }));
        }
        return inner.insert(records);
      },
      isRowRejection: inner.isRowRejection,
    };
    const ledger = await ledgerOn(store, { sink, observer, batchSize: 20, retryBaseMs: 10, retryMaxMs: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const r = i === 30 ? poison : usageRecord({ keyId });
      ids.push(r.requestId);
      ledger.record(r);
    }
    await ledger.flush();
    await waitFor(() => c.failed >= 100, "replays failing while the table is missing");
    expect(c.dropped).toBe(0);
    state.tableMissing = false;
    await waitFor(() => ledger.spoolBytes() === 0 && ledger.pending() === 0, "spool drained");
    expect(c.dropped).toBe(1);
    expectExactlyOnce(
      (await listRecords(store, { keyId })).map((r) => r.requestId),
      ids.filter((id) => id !== poison.requestId),
    );
    await ledger.close();
  });

  it("strips NUL from text (Postgres text cannot hold it) on both dialects alike", async () => {
    const keyId = freshKey();
    const r = usageRecord({ keyId, endUser: "a\u0000b", alias: "x\u0000" });
    const ledger = await ledgerOn(store);
    ledger.record(r);
    await ledger.close();
    expect(await listRecords(store, { keyId })).toEqual([{ ...r, endUser: "ab", alias: "x" }]);
  });

  it("replays a spool left by a previous process on start", async () => {
    const keyId = freshKey();
    const dir = spoolDir();
    const { state, sink } = flakySink(storeSink(store));
    state.down = true;
    const first = await ledgerOn(store, { sink, spoolDir: dir });
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) {
      const r = usageRecord({ keyId });
      ids.push(r.requestId);
      first.record(r);
    }
    await first.close(); // the database still down: the records stay on disk
    expect(first.spoolBytes()).toBeGreaterThan(0);
    expect(await listRecords(store, { keyId })).toEqual([]);
    const files = await readdir(dir);
    expect(files.length).toBeGreaterThan(0);

    // A record already stored before the crash, and a torn last line: replay skips both harmlessly.
    await storeSink(store).insert([{ ...usageRecord({ keyId }), requestId: ids[0] as string }]);
    await writeFile(join(dir, files[0] as string), '{"requestId":"torn', { flag: "a" });

    const { c, observer } = counters();
    const second = await ledgerOn(store, { spoolDir: dir, observer });
    await waitFor(() => second.spoolBytes() === 0, "spool replayed");
    expectExactlyOnce(
      (await listRecords(store, { keyId }, 1000)).map((r) => r.requestId),
      ids,
    );
    expect(c.replayed).toBe(250);
    expect(await readdir(dir)).toEqual([]);
    await second.close();
  });

  it("close() writes the records recorded right before it", async () => {
    const keyId = freshKey();
    const ledger = await ledgerOn(store, { flushIntervalMs: 60_000, batchSize: 100_000 });
    const ids: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const r = usageRecord({ keyId });
      ids.push(r.requestId);
      ledger.record(r);
    }
    expect(ledger.pending()).toBe(1500);
    await ledger.close();
    expectExactlyOnce(
      (await listRecords(store, { keyId }, 10_000)).map((r) => r.requestId),
      ids,
    );
    ledger.record(usageRecord({ keyId }));
    expect((await listRecords(store, { keyId }, 10_000)).length).toBe(1500);
  });

  it("close() replays the spool when the database is back", async () => {
    const keyId = freshKey();
    const { state, sink } = flakySink(storeSink(store));
    const ledger = await ledgerOn(store, { sink, retryBaseMs: 60_000 });
    state.down = true;
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = usageRecord({ keyId });
      ids.push(r.requestId);
      ledger.record(r);
    }
    await ledger.flush();
    expect(ledger.spoolBytes()).toBeGreaterThan(0);
    state.down = false;
    await ledger.close();
    expect(ledger.spoolBytes()).toBe(0);
    expectExactlyOnce(
      (await listRecords(store, { keyId }, 1000)).map((r) => r.requestId),
      ids,
    );
  });

  it("with the spool full, keeps the newest records in memory and says what it dropped", async () => {
    const keyId = freshKey();
    const { c, observer } = counters();
    const errors: string[] = [];
    const { state, sink } = flakySink(storeSink(store));
    state.down = true;
    const ledger = await ledgerOn(store, {
      sink,
      observer,
      batchSize: 10,
      spoolMaxBytes: 6_000, // room for one batch of ten records (~410 bytes each)
      maxHeldRecords: 30,
      retryBaseMs: 60_000,
      log: { warn: () => {}, error: (_o, msg) => errors.push(msg) },
    });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = usageRecord({ keyId });
      ids.push(r.requestId);
      ledger.record(r);
    }
    await ledger.flush();
    expect(c.spooled).toBe(10);
    expect(c.dropped).toBe(60);
    expect(ledger.pending()).toBe(30);
    expect(errors.some((m) => m.includes("spool is FULL"))).toBe(true);
    state.down = false;
    await ledger.close();
    const stored = (await listRecords(store, { keyId }, 1000)).map((r) => r.requestId);
    expectExactlyOnce(stored, [...ids.slice(0, 10), ...ids.slice(70)]);
  });
});

describe("CSV export", () => {
  it("quotes commas, quotes and line breaks, and leaves the rest bare", () => {
    const csv = toCsv([
      {
        group: 'team "a", eu',
        requests: 2,
        promptTokens: 10,
        completionTokens: 5,
        cachedTokens: 0,
        costUsd: 0.25,
        estimatedCostUsd: 0.5,
      },
      {
        group: "line\nbreak",
        requests: 1,
        promptTokens: 1,
        completionTokens: 1,
        cachedTokens: 1,
        costUsd: 0,
        estimatedCostUsd: 0,
      },
      {
        group: null,
        requests: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedTokens: 0,
        costUsd: 0,
        estimatedCostUsd: 0,
      },
    ]);
    expect(csv).toBe(
      "group,requests,prompt_tokens,completion_tokens,cached_tokens,cost_usd,estimated_cost_usd\r\n" +
        '"team ""a"", eu",2,10,5,0,0.25,0.5\r\n' +
        '"line\nbreak",1,1,1,1,0,0\r\n' +
        ",0,0,0,0,0,0\r\n",
    );
  });
});
