import type { Insertable, Selectable, Updateable } from "kysely";
import type { Schema, Store } from "../store/index.js";

export const PRIORITIES = ["high", "normal", "low"] as const;
export type Priority = (typeof PRIORITIES)[number];
export type Tags = Record<string, string>;
/** `config`: declared in routes.yaml and kept in sync with it; `api`: made through the admin API or CLI. */
export type Source = "config" | "api";

export interface OrgInfo {
  id: string;
  name: string;
  source: Source;
  createdAt: number;
}

export interface TeamInfo {
  id: string;
  orgId: string;
  name: string;
  source: Source;
  createdAt: number;
}

/** A key as the admin sees it: never its secret or hash; `hint` is the masked key. */
export interface KeyInfo {
  id: string;
  name: string;
  teamId: string;
  orgId: string;
  hint: string;
  allowedAliases: string[];
  rpm: number | null;
  tpm: number | null;
  priority: Priority;
  expiresAt: number | null;
  tags: Tags;
  enabled: boolean;
  revokedAt: number | null;
  /** While a rotation's grace period runs: when the previous secret stops working. */
  previousValidUntil: number | null;
  source: Source;
  createdAt: number;
  updatedAt: number;
}

/** A key row with its hashes, for the service only. */
export interface KeyRow extends KeyInfo {
  keyHash: string;
  prevKeyHash: string | null;
}

type Row<T extends keyof Schema> = Selectable<Schema[T]>;

const num = (v: number | string): number => Number(v);
const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function orgFromRow(r: Row<"orgs">): OrgInfo {
  return { id: r.id, name: r.name, source: r.source as Source, createdAt: num(r.created_at) };
}

export function teamFromRow(r: Row<"teams">): TeamInfo {
  return { id: r.id, orgId: r.org_id, name: r.name, source: r.source as Source, createdAt: num(r.created_at) };
}

export function keyFromRow(r: Row<"keys">): KeyRow {
  return {
    id: r.id,
    name: r.name,
    teamId: r.team_id,
    orgId: r.org_id,
    hint: r.hint,
    allowedAliases: JSON.parse(r.allowed_aliases) as string[],
    rpm: r.rpm,
    tpm: r.tpm,
    priority: r.priority as Priority,
    expiresAt: numOrNull(r.expires_at),
    tags: JSON.parse(r.tags) as Tags,
    enabled: r.enabled === 1,
    revokedAt: numOrNull(r.revoked_at),
    previousValidUntil: numOrNull(r.prev_valid_until),
    source: r.source as Source,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    keyHash: r.key_hash,
    prevKeyHash: r.prev_key_hash,
  };
}

/** Drops the hashes: what may leave the service. */
export function keyInfo(row: KeyRow): KeyInfo {
  const { keyHash: _hash, prevKeyHash: _prev, ...info } = row;
  return info;
}

export type KeyColumns = Insertable<Schema["keys"]>;
export type KeyUpdate = Updateable<Schema["keys"]>;

/** The SQL of orgs, teams and keys: one set of Kysely queries for SQLite and Postgres. */
export class AuthRecords {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  /** By the current hash, or the previous one during a rotation (both indexed). */
  async keyByHash(hash: string): Promise<KeyRow | undefined> {
    const row = await this.db
      .selectFrom("keys")
      .selectAll()
      .where((eb) => eb.or([eb("key_hash", "=", hash), eb("prev_key_hash", "=", hash)]))
      .executeTakeFirst();
    return row ? keyFromRow(row) : undefined;
  }

  async key(id: string): Promise<KeyRow | undefined> {
    const row = await this.db.selectFrom("keys").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? keyFromRow(row) : undefined;
  }

  async keys(filter: { teamId?: string; orgId?: string } = {}): Promise<KeyRow[]> {
    let q = this.db.selectFrom("keys").selectAll();
    if (filter.teamId !== undefined) q = q.where("team_id", "=", filter.teamId);
    if (filter.orgId !== undefined) q = q.where("org_id", "=", filter.orgId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(keyFromRow);
  }

  async countKeys(): Promise<number> {
    const row = await this.db
      .selectFrom("keys")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async insertKey(row: KeyColumns): Promise<void> {
    await this.db.insertInto("keys").values(row).execute();
  }

  async upsertKey(row: KeyColumns): Promise<void> {
    const { id: _id, created_at: _created, ...update } = row;
    await this.db
      .insertInto("keys")
      .values(row)
      .onConflict((oc) => oc.column("id").doUpdateSet(update))
      .execute();
  }

  async updateKey(id: string, patch: KeyUpdate): Promise<boolean> {
    const result = await this.db.updateTable("keys").set(patch).where("id", "=", id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteKey(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("keys").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async org(id: string): Promise<OrgInfo | undefined> {
    const row = await this.db.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? orgFromRow(row) : undefined;
  }

  async orgs(): Promise<OrgInfo[]> {
    return (await this.db.selectFrom("orgs").selectAll().orderBy("id").execute()).map(orgFromRow);
  }

  async upsertOrg(org: OrgInfo, insertOnly: boolean): Promise<void> {
    const row = { id: org.id, name: org.name, source: org.source, created_at: org.createdAt };
    const q = this.db.insertInto("orgs").values(row);
    await (insertOnly
      ? q
      : q.onConflict((oc) => oc.column("id").doUpdateSet({ name: org.name, source: org.source }))
    ).execute();
  }

  async updateOrg(id: string, patch: { name?: string }): Promise<boolean> {
    if (patch.name === undefined) return (await this.org(id)) !== undefined;
    const result = await this.db.updateTable("orgs").set({ name: patch.name }).where("id", "=", id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteOrg(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("orgs").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async team(id: string): Promise<TeamInfo | undefined> {
    const row = await this.db.selectFrom("teams").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? teamFromRow(row) : undefined;
  }

  async teams(filter: { orgId?: string } = {}): Promise<TeamInfo[]> {
    let q = this.db.selectFrom("teams").selectAll();
    if (filter.orgId !== undefined) q = q.where("org_id", "=", filter.orgId);
    return (await q.orderBy("id").execute()).map(teamFromRow);
  }

  async upsertTeam(team: TeamInfo, insertOnly: boolean): Promise<void> {
    const row = { id: team.id, org_id: team.orgId, name: team.name, source: team.source, created_at: team.createdAt };
    const q = this.db.insertInto("teams").values(row);
    const set = { org_id: team.orgId, name: team.name, source: team.source };
    await (insertOnly ? q : q.onConflict((oc) => oc.column("id").doUpdateSet(set))).execute();
  }

  /** Moving a team to another org moves its keys with it. */
  async updateTeam(id: string, patch: { name?: string; orgId?: string }): Promise<boolean> {
    const set: { name?: string; org_id?: string } = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.orgId !== undefined) set.org_id = patch.orgId;
    if (Object.keys(set).length === 0) return (await this.team(id)) !== undefined;
    const result = await this.db.updateTable("teams").set(set).where("id", "=", id).executeTakeFirst();
    if (patch.orgId !== undefined) {
      await this.db.updateTable("keys").set({ org_id: patch.orgId }).where("team_id", "=", id).execute();
    }
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteTeam(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("teams").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
