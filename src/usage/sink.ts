import { sql } from "kysely";
import type { Store } from "../store/index.js";
import { toRow, type UsageRecord } from "./record.js";

/** Where the ledger writes batches. The store is the only real one; tests wrap it to make it fail for a while. */
export interface UsageSink {
  /** Inserts the records; a request id already stored is skipped (idempotent), so a retried batch is harmless. */
  insert(records: readonly UsageRecord[]): Promise<void>;
  /** True when the database answers; tells "database down" from "a row it rejects". */
  ping(): Promise<boolean>;
}

// 26 columns a row: 1,000 rows stay under SQLite's 32,766 and Postgres's 65,535 bind parameters per statement.
const ROWS_PER_STATEMENT = 1_000;

export function storeSink(store: Store): UsageSink {
  return {
    async insert(records) {
      for (let i = 0; i < records.length; i += ROWS_PER_STATEMENT) {
        const rows = records.slice(i, i + ROWS_PER_STATEMENT).map(toRow);
        await store.db
          .insertInto("usage_records")
          .values(rows)
          .onConflict((oc) => oc.column("request_id").doNothing())
          .execute();
      }
    },
    async ping() {
      try {
        await sql`select 1`.execute(store.db);
        return true;
      } catch {
        return false;
      }
    },
  };
}
