import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
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
