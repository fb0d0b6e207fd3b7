import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { listRecords, UsageLedger } from "../../src/usage/index.js";
import { type Backend, makeBackend, TcpProxy, usageRecord, waitFor } from "./harness.js";

// The real Postgres stays up (other tests use it): the ledger reaches it through a TCP proxy this test cuts.
describe("usage ledger on postgres, the connection cut mid-run", () => {
  let backend: Backend;
  let direct: Store;
  const proxy = TcpProxy.toPostgres();

  beforeAll(async () => {
    backend = await makeBackend("postgres");
    direct = backend.open();
    await direct.migrate();
    await proxy.start();
  });
  afterAll(async () => {
    await proxy.stop();
    await direct?.close();
    await backend?.cleanup();
  });

  it("loses no record while the database is unreachable, and stores each once when it returns", async () => {
    const counts = { written: 0, failed: 0, spooled: 0, replayed: 0, dropped: 0 };
    // Connections the cut resets go to the store's onError (a no-op in the harness) instead of crashing vitest.
    const viaProxy = backend.open(proxy.url());
    const ledger = await UsageLedger.open({
      store: viaProxy,
      spoolDir: join(backend.dir, "spool"),
      flushIntervalMs: 10,
      batchSize: 50,
      retryBaseMs: 50,
      retryMaxMs: 400,
      log: { warn: () => {}, error: () => {} },
      observer: {
        written: (n) => {
          counts.written += n;
        },
        failed: (n) => {
          counts.failed += n;
        },
        spooled: (n) => {
          counts.spooled += n;
        },
        replayed: (n) => {
          counts.replayed += n;
        },
        dropped: (n) => {
          counts.dropped += n;
        },
      },
    });
    const keyId = `outage-${Date.now()}`;
    const ids: string[] = [];
    let stop = false;
    // Steady traffic: 10 records every 2 ms until told to stop.
    const traffic = (async () => {
      while (!stop) {
        for (let i = 0; i < 10; i++) {
          const r = usageRecord({ keyId });
          ids.push(r.requestId);
          ledger.record(r);
        }
        await new Promise((res) => setTimeout(res, 2));
      }
    })();

    await waitFor(() => counts.written >= 500, "writes through the proxy");
    await proxy.stop();
    await waitFor(() => counts.spooled >= 500, "records spooled while the database is unreachable");
    expect(ledger.spoolBytes()).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 300)); // a few failed replays, backing off
    await proxy.start();
    await waitFor(() => counts.replayed >= counts.spooled && counts.written > 0, "replay after the database is back");
    await new Promise((res) => setTimeout(res, 200));
    stop = true;
    await traffic;
    await ledger.close();

    const stored = (await listRecords(direct, { keyId }, 1_000_000)).map((r) => r.requestId);
    expect(stored.length).toBe(ids.length);
    expect(new Set(stored)).toEqual(new Set(ids));
    expect(counts.dropped).toBe(0);
    expect(counts.failed).toBeGreaterThan(0);
    expect(ledger.spoolBytes()).toBe(0);
  });
});
