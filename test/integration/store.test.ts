import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { toRow } from "../../src/usage/record.js";
import { isRowRejection } from "../../src/usage/sink.js";
import { type Backend, makeBackend, PG_URL, TcpProxy } from "./harness.js";

describe("openStore", () => {
  it("uses the embedded SQLite without a database URL, :memory: allowed", async () => {
    const store = openStore({ sqlitePath: ":memory:" });
    expect(store.dialect).toBe("sqlite");
    await store.migrate();
    await store.migrate();
    const { rows } = await sql<{ n: number }>`select count(*) as n from usage_records`.execute(store.db);
    expect(Number(rows[0]?.n)).toBe(0);
    await store.close();
  });

  it("writes an embedded file's batches on the writer thread: readable at once, duplicates skipped, row errors coded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-writer-"));
    try {
      const store = openStore({ sqlitePath: join(dir, "usage.db") });
      await store.migrate();
      const record = (requestId: string) =>
        toRow({
          requestId,
          ts: Date.now(),
          alias: "a",
          promptTokens: 3,
          completionTokens: 4,
          cachedTokens: 0,
          cacheWriteTokens: 0,
          latencyMs: 1,
          status: 200,
          outcome: "ok",
          stream: false,
          endpoint: "chat",
        });
      await store.insertIgnoringDuplicates("usage_records", "request_id", [record("r1"), record("r2")]);
      await store.insertIgnoringDuplicates("usage_records", "request_id", [record("r2"), record("r3")]);
      const { rows } = await sql<{ n: number }>`select count(*) as n from usage_records`.execute(store.db);
      expect(Number(rows[0]?.n)).toBe(3);

      // A NOT NULL column left null: the database refuses the row itself, and the error says so by its code.
      const bad = { ...record("r4"), alias: null } as unknown as ReturnType<typeof record>;
      const err = await store.insertIgnoringDuplicates("usage_records", "request_id", [bad]).catch((e) => e);
      expect((err as { code?: string }).code).toMatch(/^SQLITE_CONSTRAINT/);
      expect(isRowRejection(err)).toBe(true);

      // Batches sent before close() are written before the thread stops.
      const last = store.insertIgnoringDuplicates("usage_records", "request_id", [record("r5")]);
      await store.close();
      await last;
      const reopened = openStore({ sqlitePath: join(dir, "usage.db"), writerThread: false });
      const after = await sql<{ n: number }>`select count(*) as n from usage_records`.execute(reopened.db);
      expect(Number(after.rows[0]?.n)).toBe(4);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("uses Postgres with a database URL, in the schema it is given", async () => {
    const backend = await makeBackend("postgres");
    const store = backend.open();
    expect(store.dialect).toBe("postgres");
    await store.migrate();
    await store.migrate();
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
    expect(rows[0]?.schema).toMatch(/^t_/);
    await store.close();
    await backend.cleanup();
  });

  it("refuses a schema name that is not an identifier", () => {
    expect(() => openStore({ databaseUrl: PG_URL, pgSchema: "x; drop table y" })).toThrow(/schema name/);
  });
});

describe("a Postgres store whose server goes away", () => {
  let backend: Backend;
  const proxy = TcpProxy.toPostgres();
  beforeAll(async () => {
    backend = await makeBackend("postgres");
    await proxy.start();
  });
  afterAll(async () => {
    await proxy.stop();
    await backend.cleanup();
  });

  it("reports idle-connection errors to onError instead of crashing, and works again when it is back", async () => {
    const errors: Error[] = [];
    const store = openStore({ databaseUrl: proxy.url(), pgSchema: "public", onError: (e) => errors.push(e) });
    await sql`select 1`.execute(store.db); // leaves an idle connection in the pool
    await proxy.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.length).toBeGreaterThan(0);
    await expect(sql`select 1`.execute(store.db)).rejects.toThrow();
    await proxy.start();
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db);
    expect(rows[0]?.one).toBe(1);
    await store.close();
  });
});
