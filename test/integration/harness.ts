import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Migrator, sql } from "kysely";
import pg from "pg";
import { openStore, type Store } from "../../src/store/index.js";
import { migrationProvider } from "../../src/store/migrations.js";
import type { UsageRecord } from "../../src/usage/index.js";

export const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** One database per test file: a temp SQLite file, or a fresh schema in the real Postgres (dropped after). */
export interface Backend {
  name: "sqlite" | "postgres";
  dir: string;
  /** The SQLite file, or the Postgres schema. */
  location: string;
  /** A new store on this backend's database; `url` to reach Postgres another way (a proxy). */
  open(url?: string): Store;
  cleanup(): Promise<void>;
}

export const BACKENDS = ["sqlite", "postgres"] as const;

export async function makeBackend(name: Backend["name"]): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), "tollgate-ledger-"));
  if (name === "sqlite") {
    const sqlitePath = join(dir, "usage.db");
    return {
      name,
      dir,
      location: sqlitePath,
      open: () => openStore({ sqlitePath }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${Math.random().toString(36).slice(2, 10)}`;
  return {
    name,
    dir,
    location: schema,
    open: (url) => openStore({ databaseUrl: url ?? PG_URL, pgSchema: schema, onError: () => {} }),
    async cleanup() {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * store.migrate(), except that on Postgres the migration tables are looked for in the test's schema: Kysely's
 * Migrator finds `kysely_migration` in any schema (e.g. public, after a run with DATABASE_URL) unless told which.
 */
export async function migrateIn(backend: Backend, store: Store): Promise<void> {
  if (backend.name === "sqlite") return store.migrate();
  await sql`create schema if not exists ${sql.id(backend.location)}`.execute(store.db);
  const migrator = new Migrator({ db: store.db, provider: migrationProvider, migrationTableSchema: backend.location });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

let seq = 0;
export function usageRecord(over: Partial<UsageRecord> = {}): UsageRecord {
  seq++;
  return {
    requestId: `req-${process.pid}-${Date.now()}-${seq}`,
    ts: Date.UTC(2026, 10, 25, 12, 0, 0),
    keyId: "key-a",
    teamId: "team-a",
    orgId: "org-a",
    alias: "fast",
    provider: "openai",
    deployment: "openai-eu",
    upstreamModel: "gpt-4o-mini",
    promptTokens: 100,
    completionTokens: 20,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    estimatedCostUsd: 0.001,
    actualCostUsd: 0.0009,
    latencyMs: 120,
    ttftMs: 40,
    status: 200,
    outcome: "ok",
    stream: false,
    endpoint: "chat",
    ...over,
  };
}

/** Polls until `check` holds; throws with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A TCP forwarder to Postgres that the test can cut (every connection reset) and bring back on the same port. */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.port = addr.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** PG_URL with the proxy in place of the server. */
  url(): string {
    const u = new URL(PG_URL);
    u.host = `127.0.0.1:${this.port}`;
    return u.toString();
  }

  static toPostgres(): TcpProxy {
    const u = new URL(PG_URL);
    return new TcpProxy(u.hostname, Number(u.port || 5432));
  }
}
