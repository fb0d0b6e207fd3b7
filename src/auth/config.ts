import { z } from "zod";
import { hashKey, isKeyHash, KEY_PREFIX, maskKey } from "./key-format.js";
import { PRIORITIES } from "./records.js";
import type { KeyService } from "./service.js";

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, "expected letters, digits, _ . : - (max 128)");

const DeclaredKeySchema = z
  .object({
    id: Id.describe("The key's public id (what usage records and budgets name); never the secret."),
    name: z.string().min(1).describe("What the key is for."),
    team: Id.describe("The team the key belongs to (its org follows from the team)."),
    key_hash: z
      .string()
      .refine(isKeyHash, "expected the SHA-256 hex (64 lowercase hex digits) of the key")
      .optional()
      .describe("SHA-256 hex of the secret key (`printf %s tg-... | sha256sum`); the secret stays out of the file."),
    key_env: z
      .string()
      .min(1)
      .optional()
      .describe("Environment variable holding the raw key (tg-...); read at start, only its hash is stored."),
    allowed_aliases: z
      .array(z.string().min(1))
      .default([])
      .describe("Aliases the key may call: names or globs (`gpt-*`). Empty: every alias."),
    rpm: z.number().int().positive().optional().describe("Requests per minute for this key."),
    tpm: z.number().int().positive().optional().describe("Tokens per minute for this key."),
    priority: z.enum(PRIORITIES).default("normal").describe("Tier when a deployment is saturated: high, normal, low."),
    expires_at: z.iso.datetime({ offset: true }).optional().describe("ISO 8601 time after which the key is refused."),
    tags: z.record(z.string(), z.string()).default({}).describe("Metadata tags (team cost centre, owner, ...)."),
  })
  .strict()
  .refine((k) => (k.key_hash === undefined) !== (k.key_env === undefined), {
    message: "expected exactly one of key_hash or key_env",
  });

/** The `auth` section of routes.yaml: orgs, teams and keys declared in the file (GitOps). */
export const AuthConfigSchema = z
  .object({
    master_key_env: z
      .string()
      .min(1)
      .default("TOLLGATE_MASTER_KEY")
      .describe("Environment variable holding the master key that authorises /admin/*. Unset: no admin API."),
    orgs: z
      .array(
        z
          .object({
            id: Id.describe("Org id."),
            name: z.string().min(1).optional().describe("Display name (default: the id)."),
          })
          .strict(),
      )
      .default([])
      .describe("Orgs declared in the file."),
    teams: z
      .array(
        z
          .object({
            id: Id.describe("Team id."),
            org: Id.describe("The org the team belongs to."),
            name: z.string().min(1).optional().describe("Display name (default: the id)."),
          })
          .strict(),
      )
      .default([])
      .describe("Teams declared in the file."),
    keys: z.array(DeclaredKeySchema).default([]).describe("Keys declared in the file, by hash or by env variable."),
  })
  .strict();

export type AuthConfig = z.infer<typeof AuthConfigSchema>;

/** The master key from the environment variable the config names; undefined when unset or empty. */
export function masterKeyFrom(config: Pick<AuthConfig, "master_key_env">, env: NodeJS.ProcessEnv): string | undefined {
  return env[config.master_key_env] || undefined;
}

/**
 * Whether requests need a key. With no key stored (declared or made by the API/CLI) and no master key to make one,
 * the gateway runs open, as a bare proxy. Decided at start: a key created later by the CLI alone needs a restart.
 */
export async function isAuthEnabled(keys: KeyService, masterKey: string | undefined): Promise<boolean> {
  return masterKey !== undefined || (await keys.hasKeys());
}

/**
 * Upserts the declared orgs, teams and keys into the store (at start). Declared rows are marked `config`; a
 * declared key that left the file is revoked. A key whose `key_env` is unset is skipped with a warning. An admin's
 * revocation of a declared key stands until its hash changes in the file.
 */
export async function syncDeclared(
  keys: KeyService,
  config: AuthConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ warnings: string[] }> {
  const warnings: string[] = [];
  const records = keys.records;
  const now = Date.now();
  for (const org of config.orgs) {
    await records.upsertOrg({ id: org.id, name: org.name ?? org.id, source: "config", createdAt: now }, false);
  }
  for (const team of config.teams) {
    await keys.tenancy.requireOrg(team.org, `auth.teams.${team.id}.org`);
    await records.upsertTeam(
      { id: team.id, orgId: team.org, name: team.name ?? team.id, source: "config", createdAt: now },
      false,
    );
  }
  const declared = new Set<string>();
  for (const key of config.keys) {
    declared.add(key.id);
    const team = await keys.tenancy.requireTeam(key.team, `auth.keys.${key.id}.team`);
    let hash = key.key_hash;
    let hint = "(declared by hash)";
    if (key.key_env !== undefined) {
      const raw = env[key.key_env];
      if (!raw) {
        warnings.push(`auth.keys.${key.id}: environment variable ${key.key_env} is not set; the key is not usable`);
        continue;
      }
      if (!raw.startsWith(KEY_PREFIX)) warnings.push(`auth.keys.${key.id}: ${key.key_env} does not hold a tg- key`);
      hash = hashKey(raw);
      hint = maskKey(raw);
    }
    const existing = await records.key(key.id);
    const sameSecret = existing !== undefined && existing.keyHash === hash;
    await records.upsertKey({
      id: key.id,
      name: key.name,
      team_id: team.id,
      org_id: team.orgId,
      key_hash: hash as string,
      prev_key_hash: null,
      prev_valid_until: null,
      hint,
      allowed_aliases: JSON.stringify(key.allowed_aliases),
      rpm: key.rpm ?? null,
      tpm: key.tpm ?? null,
      priority: key.priority,
      expires_at: key.expires_at === undefined ? null : Date.parse(key.expires_at),
      tags: JSON.stringify(key.tags),
      enabled: 1,
      revoked_at: sameSecret ? existing.revokedAt : null,
      source: "config",
      created_at: existing?.createdAt ?? now,
      updated_at: now,
    });
    await keys.publish({ kind: "key", id: key.id });
  }
  for (const stale of await records.keys()) {
    if (stale.source === "config" && !declared.has(stale.id) && stale.revokedAt === null) {
      await keys.revokeKey(stale.id);
      warnings.push(`auth.keys.${stale.id}: no longer declared in the config; revoked`);
    }
  }
  await keys.publish({ kind: "keys" });
  return { warnings };
}
