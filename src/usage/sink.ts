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

export function storeSink(store: Store): UsageSink {
  return {
    async insert(records) {
      await store.insertIgnoringDuplicates("usage_records", "request_id", records.map(toRow));
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
