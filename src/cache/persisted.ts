import type { Store } from "../store/index.js";
import type { CacheEntry } from "./entry.js";

export interface PersistedEntry {
  key: string;
  namespace: string;
  prompt: string;
  entry: CacheEntry;
}

/**
 * Semantic-tier entries in the SQL store (embedded or Postgres), so the index and its answers survive a restart:
 * written when an answer joins the index, read back once at start. Expired rows are skipped and swept.
 */
export class PersistedSemanticEntries {
  constructor(private readonly store: Store) {}

  async save(row: PersistedEntry): Promise<void> {
    const values = {
      key: row.key,
      namespace: row.namespace,
      prompt: row.prompt,
      entry: JSON.stringify(row.entry),
      expires_at: row.entry.expiresAt,
    };
    await this.store.db
      .insertInto("cache_entries")
      .values(values)
      .onConflict((c) => c.column("key").doUpdateSet({ entry: values.entry, expires_at: values.expires_at }))
      .execute();
  }

  /** The live entries, oldest first; expired ones are deleted. */
  async load(now = Date.now()): Promise<PersistedEntry[]> {
    await this.store.db.deleteFrom("cache_entries").where("expires_at", "<=", now).execute();
    const rows = await this.store.db.selectFrom("cache_entries").selectAll().orderBy("expires_at").execute();
    const out: PersistedEntry[] = [];
    for (const r of rows) {
      if (r.namespace === null || r.prompt === null) continue;
      out.push({ key: r.key, namespace: r.namespace, prompt: r.prompt, entry: JSON.parse(r.entry) as CacheEntry });
    }
    return out;
  }
}
