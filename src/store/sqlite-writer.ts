// The embedded store's writer thread: batch inserts run here, on their own better-sqlite3 connection, so the
// event loop that serves requests never waits on SQLite (the usage ledger's writes were ~12% of the gateway's
// CPU on cache hits, measured with --cpu-prof). WAL lets the main thread's connection read meanwhile.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { sqliteValue, type WriterReply, type WriterRequest } from "./sqlite-writer-protocol.js";

const port = parentPort;
if (port === null) throw new Error("sqlite-writer runs as a worker thread");

const database = new Database((workerData as { path: string }).path);
database.pragma("journal_mode = WAL");
database.pragma("synchronous = NORMAL");
database.pragma("busy_timeout = 5000");

// Statements are prepared on first use, after the main thread ran the migrations that created the tables.
type Insert = (columns: readonly string[], rows: readonly Record<string, unknown>[]) => void;
const inserts = new Map<string, Insert>();

function inserterFor(sql: string): Insert {
  let insert = inserts.get(sql);
  if (insert === undefined) {
    const statement = database.prepare(sql);
    insert = database.transaction((columns: readonly string[], rows: readonly Record<string, unknown>[]) => {
      for (const row of rows) statement.run(columns.map((c) => sqliteValue(row[c])));
    });
    inserts.set(sql, insert);
  }
  return insert;
}

port.on("message", (request: WriterRequest) => {
  if (request.op === "close") {
    database.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    inserterFor(request.sql)(request.columns, request.rows);
    reply = { id: request.id };
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown };
    reply = {
      id: request.id,
      error: { message: String(e.message ?? err), ...(typeof e.code === "string" ? { code: e.code } : {}) },
    };
  }
  port.postMessage(reply);
});
