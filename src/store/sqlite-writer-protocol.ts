/** Messages between the embedded store and its writer thread (./sqlite-writer.ts). */
export type WriterRequest =
  | { op: "insert"; id: number; sql: string; columns: readonly string[]; rows: readonly Record<string, unknown>[] }
  | { op: "close" };

export interface WriterReply {
  id: number;
  /** The SQLite error, with its code (SQLITE_CONSTRAINT...) so the ledger can tell a bad row from an outage. */
  error?: { message: string; code?: string };
}

/** What better-sqlite3 binds: no undefined, booleans as 0/1. */
export function sqliteValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  return v;
}
