import type { Store } from "../store/index.js";
import { toRow, type UsageRecord } from "./record.js";

/** Where the ledger writes batches. The store is the only real one; tests wrap it to make it fail for a while. */
export interface UsageSink {
  /** Inserts the records; a request id already stored is skipped (idempotent), so a retried batch is harmless. */
  insert(records: readonly UsageRecord[]): Promise<void>;
  /**
   * True when `err` says the database refused the rows themselves (a data or constraint error), which no retry
   * will cure; anything else (unreachable, missing table before migrations ran, timeout) is retried.
   */
  isRowRejection(err: unknown): boolean;
}

export function storeSink(store: Store): UsageSink {
  return {
    insert: (records) => store.insertIgnoringDuplicates("usage_records", "request_id", records.map(toRow)),
    isRowRejection,
  };
}

// Postgres SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation); SQLite's equivalents.
const SQLITE_ROW_ERRORS = new Set(["SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE"]);

export function isRowRejection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  return code.startsWith("SQLITE_CONSTRAINT") || SQLITE_ROW_ERRORS.has(code);
}
