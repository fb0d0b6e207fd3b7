// Usage ledger throughput: records/s sustained through UsageLedger (record() -> batched INSERT ... ON CONFLICT DO
// NOTHING: unnest() on Postgres, multi-row VALUES on SQLite) into real Postgres (DATABASE_URL or the local default)
// and into the embedded SQLite file.
// `npx tsx bench/ledger.ts` (LEDGER_BENCH_RECORDS=200000 by default); bench/run.ts can call runLedgerBench().
//
// Measured on this machine (2 vCPU shared with other jobs, load average ~4, Node 20, Postgres 15 local), 200k
// records, batches of 500, three runs: Postgres 24-37k records/s (unnest() insert, 13-21 ms a batch), SQLite
// 32-50k records/s.
// Kysely's multi-row VALUES insert into Postgres managed 13-17k records/s with ~1.7x the Node CPU, hence unnest().
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { openStore, type Store } from "../src/store/index.js";
import { UsageLedger, type UsageRecord } from "../src/usage/index.js";

export interface LedgerBenchRow {
  dialect: "postgres" | "sqlite";
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Mean time of one batch insert, ms. */
  batchMs: number;
}

export interface LedgerBenchOptions {
  records?: number;
  batchSize?: number;
  databaseUrl?: string;
}

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test";

function recordOf(run: string, i: number): UsageRecord {
  return {
    requestId: `${run}-${i}`,
    ts: Date.now(),
    keyId: `key-${i % 50}`,
    teamId: `team-${i % 7}`,
    orgId: "org-1",
    endUser: i % 3 === 0 ? `user-${i % 1000}` : undefined,
    alias: "fast",
    provider: "openai",
    deployment: "openai-eu",
    upstreamModel: "gpt-4o-mini",
    region: "eu-west-1",
    promptTokens: 500 + (i % 300),
    completionTokens: 100 + (i % 50),
    cachedTokens: i % 4 === 0 ? 256 : 0,
    cacheWriteTokens: 0,
    estimatedCostUsd: 0.00021,
    actualCostUsd: 0.000198,
    latencyMs: 300 + (i % 200),
    ttftMs: 80,
    status: 200,
    outcome: "ok",
    cacheDecision: "miss",
    routeDecision: "cheapest",
    stream: i % 2 === 0,
    endpoint: "chat",
  };
}

/** Records `n` records in slices of 1,000 per event-loop turn (traffic, not one tight loop) until all are stored. */
async function drive(
  store: Store,
  dir: string,
  n: number,
  batchSize: number,
): Promise<Omit<LedgerBenchRow, "dialect">> {
  let batches = 0;
  let batchSeconds = 0;
  const ledger = await UsageLedger.open({
    store,
    spoolDir: join(dir, "spool"),
    batchSize,
    closeStore: false,
    observer: {
      written: (_n, s) => {
        batches++;
        batchSeconds += s;
      },
      failed: (_n, reason) => console.error(`write failed: ${reason}`),
    },
  });
  const run = Math.random().toString(36).slice(2, 8);
  const t0 = performance.now();
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + 1_000);
    for (; i < end; i++) ledger.record(recordOf(run, i));
    await new Promise((r) => setImmediate(r));
  }
  await ledger.close();
  const seconds = (performance.now() - t0) / 1000;
  const { rows } = await store.db
    .selectFrom("usage_records")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("request_id", "like", `${run}-%`)
    .execute()
    .then((r) => ({ rows: r }));
  const stored = Number(rows[0]?.n);
  if (stored !== n) throw new Error(`expected ${n} rows, found ${stored}`);
  return { records: n, seconds, recordsPerSec: Math.round(n / seconds), batchMs: (batchSeconds / batches) * 1000 };
}

export async function runLedgerBench(options: LedgerBenchOptions = {}): Promise<LedgerBenchRow[]> {
  const n = options.records ?? 200_000;
  const batchSize = options.batchSize ?? 500;
  const url = options.databaseUrl ?? process.env.DATABASE_URL ?? DEFAULT_URL;
  const dir = await mkdtemp(join(tmpdir(), "tollgate-ledger-bench-"));
  const schema = `bench_${Math.random().toString(36).slice(2, 8)}`;
  const rows: LedgerBenchRow[] = [];
  try {
    const pgStore = openStore({ databaseUrl: url, pgSchema: schema });
    try {
      await pgStore.migrate();
      rows.push({ dialect: "postgres", ...(await drive(pgStore, dir, n, batchSize)) });
    } finally {
      await pgStore.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    }
    const sqliteStore = openStore({ sqlitePath: join(dir, "usage.db") });
    try {
      await sqliteStore.migrate();
      rows.push({ dialect: "sqlite", ...(await drive(sqliteStore, dir, n, batchSize)) });
    } finally {
      await sqliteStore.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const records = Number(process.env.LEDGER_BENCH_RECORDS ?? 200_000);
  for (const r of await runLedgerBench({ records })) {
    console.log(
      `${r.dialect.padEnd(8)} ${r.records} records in ${r.seconds.toFixed(2)} s: ${r.recordsPerSec} records/s ` +
        `(${r.batchMs.toFixed(1)} ms per batch insert)`,
    );
  }
}
