import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { type AliasMatcher, compileAliasMatcher } from "./aliases.js";
import { type ChangeBus, type ChangeEvent, type ChangeListener, createChangeBus, LocalChangeBus } from "./bus.js";
import { badValue, conflict, expiredKey, incorrectKey, missingKey, modelNotAllowed, notFound } from "./errors.js";
import type { Identity } from "./identity.js";
import { generateKey, hashesEqual, hashKey, maskKey, newId } from "./key-format.js";
import {
  AuthRecords,
  type KeyColumns,
  type KeyInfo,
  type KeyRow,
  type KeyUpdate,
  keyInfo,
  type Priority,
  type Tags,
} from "./records.js";
import { Tenancy } from "./tenancy.js";

/** What the auth stage gets for a valid key: everything later stages need, no secret. Shared: do not mutate. */
export interface AuthedKey {
  readonly id: string;
  readonly name: string;
  readonly teamId: string;
  readonly orgId: string;
  readonly allowedAliases: readonly string[];
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly priority: Priority;
  readonly expiresAt: number | null;
  readonly tags: Readonly<Tags>;
  /** The org/team/key identity; copy it (`{ ...key.identity, endUser }`) to add the request's `user`. */
  readonly identity: Readonly<Identity>;
  /** Compiled from allowedAliases once, when the key is loaded. */
  readonly allows: AliasMatcher;
}

export interface KeyInput {
  name: string;
  teamId: string;
  allowedAliases?: string[];
  rpm?: number | null;
  tpm?: number | null;
  priority?: Priority;
  expiresAt?: number | null;
  tags?: Tags;
  enabled?: boolean;
}

export type KeyPatch = Partial<KeyInput>;

export interface KeyServiceOptions {
  store: Store;
  /** Delivers invalidations to other replicas (createChangeBus(redisUrl)); default: this process only. */
  bus?: ChangeBus;
  logger?: Logger;
  /** A cached key is re-read in the background after this long (the bound on staleness without Redis). */
  cacheTtlMs?: number;
  /** How long an unknown key's "no" is remembered, so a flood of bad keys does not reach the database. */
  negativeTtlMs?: number;
  /** At most this many unknown keys are remembered; past it the list starts over. */
  negativeMax?: number;
  now?: () => number;
}

interface CacheEntry {
  key: AuthedKey;
  /** The hash this entry answers for (compared in constant time). */
  hash: string;
  revokedAt: number | null;
  enabled: boolean;
  /** For a rotated key's previous secret: when it stops working. */
  validUntil: number | null;
  staleAt: number;
  refreshing: boolean;
}

const BEARER = /^bearer\s+/i;

/**
 * Keys: authentication on the hot path, and their management for the admin API and CLI.
 *
 * authenticate() answers from an in-memory map keyed by the SHA-256 of the presented key: after the first lookup
 * of a key there is no database query on the request path (a stale entry is served while it is re-read in the
 * background). Every change made here drops the entry at once and is published on the bus, so other replicas drop
 * theirs (Redis pub/sub, well under a second); a load racing with a change is discarded by a generation counter.
 */
export class KeyService {
  readonly records: AuthRecords;
  readonly tenancy: Tenancy;
  private readonly bus: ChangeBus;
  private readonly logger: Logger | undefined;
  private readonly cacheTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly negativeMax: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly hashesById = new Map<string, Set<string>>();
  private readonly unknown = new Map<string, number>();
  private readonly loading = new Map<string, Promise<CacheEntry | undefined>>();
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(options: KeyServiceOptions) {
    this.records = new AuthRecords(options.store);
    this.bus = options.bus ?? new LocalChangeBus();
    this.logger = options.logger;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.negativeMax = options.negativeMax ?? 10_000;
    this.now = options.now ?? Date.now;
    this.tenancy = new Tenancy(this.records, (event) => this.publish(event), this.now);
    this.unsubscribe = this.bus.subscribe(
      (event) => this.invalidate(event),
      () => this.clearCache(),
    );
  }

  /** A KeyService whose invalidations reach every replica through Redis when `redisUrl` is given. */
  static async open(options: Omit<KeyServiceOptions, "bus"> & { redisUrl?: string }): Promise<KeyService> {
    const onError = (err: Error) => options.logger?.warn({ err: err.message }, "key invalidation: redis error");
    return new KeyService({ ...options, bus: await createChangeBus(options.redisUrl, { onError }) });
  }

  // ---- the hot path ----

  /** The key of an `Authorization: Bearer tg-...` header, or a 401 GatewayError (missing, unknown, revoked, expired). */
  async authenticate(authorizationHeader: string | undefined): Promise<AuthedKey> {
    if (authorizationHeader === undefined || !BEARER.test(authorizationHeader)) throw missingKey();
    const secret = authorizationHeader.replace(BEARER, "").trim();
    if (secret === "") throw missingKey();
    const hash = hashKey(secret);
    const now = this.now();
    let entry = this.cache.get(hash);
    if (entry === undefined) {
      const until = this.unknown.get(hash);
      if (until !== undefined && until > now) throw incorrectKey(maskKey(secret));
      entry = await this.load(hash);
      if (entry === undefined) throw incorrectKey(maskKey(secret));
    } else if (entry.staleAt <= now && !entry.refreshing) {
      entry.refreshing = true;
      this.load(hash).catch(() => {}); // served stale meanwhile; a failed refresh is retried by the next request
    }
    if (!hashesEqual(entry.hash, hash)) throw incorrectKey(maskKey(secret));
    if (entry.revokedAt !== null) throw incorrectKey(maskKey(secret), " This key has been revoked.");
    if (!entry.enabled) throw incorrectKey(maskKey(secret), " This key is disabled.");
    if (entry.validUntil !== null && now >= entry.validUntil) {
      throw incorrectKey(maskKey(secret), " This key was rotated and its grace period is over.");
    }
    const expiresAt = entry.key.expiresAt;
    if (expiresAt !== null && now >= expiresAt) throw expiredKey(maskKey(secret), expiresAt);
    return entry.key;
  }

  /** 403 model_not_allowed, listing the allowed aliases, unless the key may call `alias`. */
  checkAlias(key: AuthedKey, alias: string): void {
    if (!key.allows(alias)) throw modelNotAllowed(alias, key.allowedAliases);
  }

  private load(hash: string): Promise<CacheEntry | undefined> {
    const pending = this.loading.get(hash);
    if (pending) return pending;
    const generation = this.generation;
    const promise = this.records
      .keyByHash(hash)
      .then((row) => {
        if (generation !== this.generation) {
          // Something changed while we read: answer this request, but cache nothing that may be stale.
          return row ? toEntry(row, hash, this.now() + this.cacheTtlMs) : undefined;
        }
        if (row === undefined) {
          this.rememberUnknown(hash);
          this.forget(hash);
          return undefined;
        }
        const entry = toEntry(row, hash, this.now() + this.cacheTtlMs);
        this.cache.set(hash, entry);
        const hashes = this.hashesById.get(row.id);
        if (hashes) hashes.add(hash);
        else this.hashesById.set(row.id, new Set([hash]));
        return entry;
      })
      .finally(() => {
        this.loading.delete(hash);
        const cached = this.cache.get(hash);
        if (cached) cached.refreshing = false;
      });
    this.loading.set(hash, promise);
    return promise;
  }

  private rememberUnknown(hash: string): void {
    if (this.unknown.size >= this.negativeMax) this.unknown.clear();
    this.unknown.set(hash, this.now() + this.negativeTtlMs);
  }

  private forget(hash: string): void {
    const entry = this.cache.get(hash);
    if (entry === undefined) return;
    this.cache.delete(hash);
    this.hashesById.get(entry.key.id)?.delete(hash);
  }

  // ---- invalidation ----

  /** Drops what this replica cached of a change (called for local and remote events). */
  private invalidate(event: ChangeEvent): void {
    if (event.kind === "budgets") return;
    this.generation++;
    this.unknown.clear(); // a new or rotated key may have been asked for before it existed
    if (event.kind === "key") {
      for (const hash of this.hashesById.get(event.id) ?? []) this.cache.delete(hash);
      this.hashesById.delete(event.id);
    }
  }

  /** Forgets every cached answer (after a Redis reconnect, when events may have been missed). */
  clearCache(): void {
    this.generation++;
    this.cache.clear();
    this.hashesById.clear();
    this.unknown.clear();
  }

  /** Tells this replica and, through the bus, every other one. */
  async publish(event: ChangeEvent): Promise<void> {
    await this.bus.publish(event);
  }

  /** Change events from this and other replicas (e.g. `budgets`, to reload budget definitions). */
  subscribe(listener: ChangeListener): () => void {
    return this.bus.subscribe(listener);
  }

  // ---- management (admin API, CLI, routes.yaml) ----

  /** Creates a key; the returned `key` is the only time its secret exists outside the client. */
  async createKey(input: KeyInput, options: { id?: string } = {}): Promise<{ key: string; info: KeyInfo }> {
    const team = await this.tenancy.requireTeam(input.teamId, "team_id");
    const secret = generateKey();
    const now = this.now();
    const id = options.id ?? newId("key");
    if (options.id !== undefined && (await this.records.key(id))) throw conflict(`A key with id '${id}' exists.`, "id");
    const row: KeyColumns = {
      id,
      name: input.name,
      team_id: team.id,
      org_id: team.orgId,
      key_hash: hashKey(secret),
      prev_key_hash: null,
      prev_valid_until: null,
      hint: maskKey(secret),
      allowed_aliases: JSON.stringify(input.allowedAliases ?? []),
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      priority: input.priority ?? "normal",
      expires_at: input.expiresAt ?? null,
      tags: JSON.stringify(input.tags ?? {}),
      enabled: input.enabled === false ? 0 : 1,
      revoked_at: null,
      source: "api",
      created_at: now,
      updated_at: now,
    };
    await this.records.insertKey(row);
    await this.publish({ kind: "keys" });
    this.logger?.info({ key_id: id, team_id: team.id, hint: row.hint }, "key created");
    return { key: secret, info: keyInfo(await this.requireKey(id)) };
  }

  async getKey(id: string): Promise<KeyInfo> {
    return keyInfo(await this.requireKey(id));
  }

  async listKeys(filter: { teamId?: string; orgId?: string } = {}): Promise<KeyInfo[]> {
    return (await this.records.keys(filter)).map(keyInfo);
  }

  async updateKey(id: string, patch: KeyPatch): Promise<KeyInfo> {
    await this.requireKey(id);
    const set: KeyUpdate = { updated_at: this.now() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.teamId !== undefined) {
      const team = await this.tenancy.requireTeam(patch.teamId, "team_id");
      set.team_id = team.id;
      set.org_id = team.orgId;
    }
    if (patch.allowedAliases !== undefined) set.allowed_aliases = JSON.stringify(patch.allowedAliases);
    if (patch.rpm !== undefined) set.rpm = patch.rpm;
    if (patch.tpm !== undefined) set.tpm = patch.tpm;
    if (patch.priority !== undefined) set.priority = patch.priority;
    if (patch.expiresAt !== undefined) set.expires_at = patch.expiresAt;
    if (patch.tags !== undefined) set.tags = JSON.stringify(patch.tags);
    if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
    await this.records.updateKey(id, set);
    await this.publish({ kind: "key", id });
    return this.getKey(id);
  }

  /** Revokes for good: the current secret and any previous one in its grace period stop working. */
  async revokeKey(id: string): Promise<KeyInfo> {
    const row = await this.requireKey(id);
    const now = this.now();
    if (row.revokedAt === null) {
      await this.records.updateKey(id, {
        revoked_at: now,
        prev_key_hash: null,
        prev_valid_until: null,
        updated_at: now,
      });
    }
    await this.publish({ kind: "key", id });
    this.logger?.info({ key_id: id, hint: row.hint }, "key revoked");
    return this.getKey(id);
  }

  async deleteKey(id: string): Promise<void> {
    if (!(await this.records.deleteKey(id))) throw notFound("key", id);
    await this.publish({ kind: "key", id });
  }

  /** A new secret for the key; the old one keeps working for `graceSeconds` (0: stops at once). */
  async rotateKey(id: string, graceSeconds: number): Promise<{ key: string; info: KeyInfo }> {
    const row = await this.requireKey(id);
    if (row.revokedAt !== null) throw conflict(`The key '${id}' is revoked; create a new one instead.`, "id");
    if (!Number.isFinite(graceSeconds) || graceSeconds < 0)
      throw badValue("Invalid value for 'grace_seconds': expected a number >= 0.", "grace_seconds");
    const secret = generateKey();
    const now = this.now();
    await this.records.updateKey(id, {
      key_hash: hashKey(secret),
      hint: maskKey(secret),
      prev_key_hash: graceSeconds > 0 ? row.keyHash : null,
      prev_valid_until: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
      updated_at: now,
    });
    await this.publish({ kind: "key", id });
    this.logger?.info({ key_id: id, hint: maskKey(secret), grace_seconds: graceSeconds }, "key rotated");
    return { key: secret, info: await this.getKey(id) };
  }

  /** Whether any key is stored (with no key and no master key, the gateway may run open). */
  async hasKeys(): Promise<boolean> {
    return (await this.records.countKeys()) > 0;
  }

  private async requireKey(id: string): Promise<KeyRow> {
    const row = await this.records.key(id);
    if (row === undefined) throw notFound("key", id);
    return row;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.bus.close();
  }
}

function toEntry(row: KeyRow, hash: string, staleAt: number): CacheEntry {
  const key: AuthedKey = {
    id: row.id,
    name: row.name,
    teamId: row.teamId,
    orgId: row.orgId,
    allowedAliases: row.allowedAliases,
    rpm: row.rpm,
    tpm: row.tpm,
    priority: row.priority,
    expiresAt: row.expiresAt,
    tags: row.tags,
    identity: { keyId: row.id, teamId: row.teamId, orgId: row.orgId },
    allows: compileAliasMatcher(row.allowedAliases),
  };
  const viaPrevious = row.keyHash !== hash;
  return {
    key,
    hash: viaPrevious ? (row.prevKeyHash ?? row.keyHash) : row.keyHash,
    revokedAt: row.revokedAt,
    enabled: row.enabled,
    validUntil: viaPrevious ? (row.previousValidUntil ?? 0) : null,
    staleAt,
    refreshing: false,
  };
}
