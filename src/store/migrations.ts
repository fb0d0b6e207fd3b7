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
  "0002_auth": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("orgs")
        .ifNotExists()
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull().defaultTo("api"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("teams")
        .ifNotExists()
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull().defaultTo("api"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("keys")
        .ifNotExists()
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("team_id", "text", (c) => c.notNull())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("key_hash", "text", (c) => c.notNull().unique())
        .addColumn("prev_key_hash", "text")
        .addColumn("prev_valid_until", "bigint")
        .addColumn("hint", "text", (c) => c.notNull())
        .addColumn("allowed_aliases", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("rpm", "integer")
        .addColumn("tpm", "integer")
        .addColumn("priority", "text", (c) => c.notNull().defaultTo("normal"))
        .addColumn("expires_at", "bigint")
        .addColumn("tags", "text", (c) => c.notNull().defaultTo("{}"))
        .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
        .addColumn("revoked_at", "bigint")
        .addColumn("source", "text", (c) => c.notNull().defaultTo("api"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      // Authentication looks a key up by the hash of what the client sent: current or, during a rotation, previous.
      await db.schema.createIndex("keys_prev_key_hash").ifNotExists().on("keys").column("prev_key_hash").execute();
      await db.schema.createIndex("keys_team_id").ifNotExists().on("keys").column("team_id").execute();
      await db.schema.createIndex("teams_org_id").ifNotExists().on("teams").column("org_id").execute();
      await db.schema
        .createTable("budgets")
        .ifNotExists()
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("scope", "text", (c) => c.notNull())
        .addColumn("scope_id", "text", (c) => c.notNull())
        .addColumn("definition", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("budgets_scope").ifNotExists().on("budgets").columns(["scope", "scope_id"]).execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ["budgets", "keys", "teams", "orgs"])
        await sql`drop table if exists ${sql.table(table)}`.execute(db);
    },
  },
  "0003_budget_decision": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("usage_records").addColumn("budget_decision", "text").execute();
    },
  },
  "0004_route_attempts": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("usage_records").addColumn("attempts", "text").execute();
    },
  },
  "0005_cache_savings": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("usage_records").addColumn("saved_cost_usd", "double precision").execute();
      await db.schema.alterTable("usage_records").addColumn("saved_latency_ms", "integer").execute();
    },
  },
  "0006_cache_entries": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("cache_entries")
        .ifNotExists()
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("namespace", "text")
        .addColumn("prompt", "text")
        .addColumn("entry", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("cache_entries_expires")
        .ifNotExists()
        .on("cache_entries")
        .column("expires_at")
        .execute();
    },
  },
  // Which prompts repeat (cache opportunities in /api/recommendations); null on rows written before it.
  "0007_prompt_fingerprint": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("usage_records").addColumn("prompt_hash", "text").execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
