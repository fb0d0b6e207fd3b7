import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

/**
 * Migrations in code, one list for both dialects: only types both understand (text, bigint, integer,
 * double precision). Append new entries; never edit a shipped one. Names sort in the order they run.
 */
const MIGRATIONS: Record<string, Migration> = {
  "0001_usage_records": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("usage_records")
        .ifNotExists()
        .addColumn("request_id", "text", (c) => c.primaryKey())
        .addColumn("ts", "bigint", (c) => c.notNull())
        .addColumn("key_id", "text")
        .addColumn("team_id", "text")
        .addColumn("org_id", "text")
        .addColumn("end_user", "text")
        .addColumn("alias", "text", (c) => c.notNull())
        .addColumn("provider", "text")
        .addColumn("deployment", "text")
        .addColumn("upstream_model", "text")
        .addColumn("region", "text")
        .addColumn("prompt_tokens", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("completion_tokens", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("cached_tokens", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("cache_write_tokens", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("estimated_cost_usd", "double precision")
        .addColumn("actual_cost_usd", "double precision")
        .addColumn("latency_ms", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("ttft_ms", "integer")
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("cache_decision", "text")
        .addColumn("route_decision", "text")
        .addColumn("stream", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("endpoint", "text", (c) => c.notNull())
        .addColumn("error_type", "text")
        .execute();
      // Every usage query filters on a time range; per-key and per-team spend are the common drill-downs.
      await db.schema.createIndex("usage_records_ts").ifNotExists().on("usage_records").column("ts").execute();
      await db.schema
        .createIndex("usage_records_key_ts")
        .ifNotExists()
        .on("usage_records")
        .columns(["key_id", "ts"])
        .execute();
      await db.schema
        .createIndex("usage_records_team_ts")
        .ifNotExists()
        .on("usage_records")
        .columns(["team_id", "ts"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table if exists usage_records`.execute(db);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
