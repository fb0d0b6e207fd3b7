import type { KeyInfo, OrgInfo, TeamInfo } from "../auth/records.js";
import type { StoredBudget } from "./budget-store.js";

// The JSON the admin API and CLI print. Never a hash; a secret only as `key` on create/rotate (see withSecret).

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function keyView(k: KeyInfo) {
  return {
    object: "key",
    id: k.id,
    name: k.name,
    team_id: k.teamId,
    org_id: k.orgId,
    hint: k.hint,
    allowed_aliases: k.allowedAliases,
    rpm: k.rpm,
    tpm: k.tpm,
    priority: k.priority,
    expires_at: iso(k.expiresAt),
    tags: k.tags,
    enabled: k.enabled,
    revoked_at: iso(k.revokedAt),
    previous_valid_until: iso(k.previousValidUntil),
    source: k.source,
    created_at: iso(k.createdAt),
    updated_at: iso(k.updatedAt),
  };
}

/** The one response that carries a secret: shown once, never stored. */
export function withSecret(created: { key: string; info: KeyInfo }) {
  return { ...keyView(created.info), key: created.key };
}

export function orgView(o: OrgInfo) {
  return { object: "org", id: o.id, name: o.name, source: o.source, created_at: iso(o.createdAt) };
}

export function teamView(t: TeamInfo) {
  return { object: "team", id: t.id, org_id: t.orgId, name: t.name, source: t.source, created_at: iso(t.createdAt) };
}

export function budgetView(b: StoredBudget) {
  return {
    object: "budget",
    id: b.id,
    definition: b.definition,
    created_at: iso(b.createdAt),
    updated_at: iso(b.updatedAt),
  };
}

export const listView = <T>(data: T[]) => ({ object: "list", data });
