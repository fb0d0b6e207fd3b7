import type { KyselyPlugin } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createChangeBus } from "../../src/auth/bus.js";
import { isAuthEnabled, syncDeclared } from "../../src/auth/config.js";
import { AuthConfigSchema } from "../../src/auth/index.js";
import { hashKey } from "../../src/auth/key-format.js";
import { KeyService } from "../../src/auth/service.js";
import { GatewayError } from "../../src/errors.js";
import type { Store } from "../../src/store/index.js";
import { BACKENDS, type Backend, makeBackend, migrateIn, waitFor } from "./harness.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A store whose every SQL statement is counted. */
function countingStore(store: Store): { store: Store; queries: () => number } {
  let n = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      n++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { store: { ...store, db: store.db.withPlugin(plugin) }, queries: () => n };
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

const bearer = (key: string) => `Bearer ${key}`;

describe.each(BACKENDS)("KeyService on %s", (backendName) => {
  let backend: Backend;
  let store: Store;
  let clock = Date.UTC(2026, 0, 1);
  const now = () => clock;
  let keys: KeyService;

  beforeAll(async () => {
    backend = await makeBackend(backendName);
    store = backend.open();
    await migrateIn(backend, store);
    keys = new KeyService({ store, now });
    await keys.tenancy.createOrg({ id: "acme" });
    await keys.tenancy.createTeam({ id: "search", orgId: "acme" });
    await keys.tenancy.createTeam({ id: "ads", orgId: "acme" });
  });
  afterAll(async () => {
    await keys.close();
    await store.close();
    await backend.cleanup();
  });

  it("authenticates a created key and gives its identity, never storing the secret", async () => {
    const { key, info } = await keys.createKey({ name: "ci", teamId: "search", rpm: 60, priority: "high" });
    expect(key).toMatch(/^tg-/);
    const authed = await keys.authenticate(bearer(key));
    expect(authed).toMatchObject({ id: info.id, teamId: "search", orgId: "acme", rpm: 60, priority: "high" });
    expect(authed.identity).toEqual({ keyId: info.id, teamId: "search", orgId: "acme" });
    const row = await store.db.selectFrom("keys").selectAll().where("id", "=", info.id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(hashKey(key));
    expect(JSON.stringify(row)).not.toContain(key);
  });

  it("refuses a missing key and an unknown key with 401 invalid_api_key, masking what was sent", async () => {
    for (const header of [undefined, "", "Bearer ", "Basic abc"]) {
      const err = await refusal(keys.authenticate(header));
      expect([err.status, err.code]).toEqual([401, "invalid_api_key"]);
      expect(err.message).toMatch(/didn't provide an API key/);
    }
    const unknown = "tg-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const err = await refusal(keys.authenticate(bearer(unknown)));
    expect([err.status, err.code]).toEqual([401, "invalid_api_key"]);
    expect(err.message).toContain("Incorrect API key provided: tg-ab***DEFG");
    expect(err.message).not.toContain(unknown);
  });

  it("refuses an expired key with 401 key_expired saying when", async () => {
    const expiresAt = clock + 60_000;
    const { key } = await keys.createKey({ name: "temp", teamId: "search", expiresAt });
    await keys.authenticate(bearer(key));
    clock += 60_001;
    const err = await refusal(keys.authenticate(bearer(key)));
    expect([err.status, err.code]).toEqual([401, "key_expired"]);
    expect(err.message).toContain(new Date(expiresAt).toISOString());
  });

  it("refuses a revoked key with 401 invalid_api_key, at once", async () => {
    const { key, info } = await keys.createKey({ name: "gone", teamId: "search" });
    await keys.authenticate(bearer(key));
    await keys.revokeKey(info.id);
    const err = await refusal(keys.authenticate(bearer(key)));
    expect([err.status, err.code]).toEqual([401, "invalid_api_key"]);
    expect(err.message).toMatch(/revoked/);
  });

  it("rotates: the old key works during the grace period and not after; the new key works", async () => {
    const { key: oldKey, info } = await keys.createKey({ name: "rot", teamId: "search" });
    await keys.authenticate(bearer(oldKey));
    const { key: newKey } = await keys.rotateKey(info.id, 60);
    expect(newKey).not.toBe(oldKey);
    expect((await keys.authenticate(bearer(oldKey))).id).toBe(info.id);
    expect((await keys.authenticate(bearer(newKey))).id).toBe(info.id);
    clock += 61_000;
    const err = await refusal(keys.authenticate(bearer(oldKey)));
    expect([err.status, err.code]).toEqual([401, "invalid_api_key"]);
    expect((await keys.authenticate(bearer(newKey))).id).toBe(info.id);
    // Without grace the old key stops at once.
    const { key: third } = await keys.rotateKey(info.id, 0);
    await refusal(keys.authenticate(bearer(newKey)));
    expect((await keys.authenticate(bearer(third))).id).toBe(info.id);
  });

  it("checks aliases against names and globs: 403 model_not_allowed listing them", async () => {
    const { key } = await keys.createKey({ name: "narrow", teamId: "ads", allowedAliases: ["fast", "gpt-*"] });
    const authed = await keys.authenticate(bearer(key));
    keys.checkAlias(authed, "fast");
    keys.checkAlias(authed, "gpt-4o");
    let err: GatewayError | undefined;
    try {
      keys.checkAlias(authed, "claude-opus");
    } catch (e) {
      err = e as GatewayError;
    }
    expect([err?.status, err?.code, err?.param]).toEqual([403, "model_not_allowed", "model"]);
    expect(err?.message).toContain("fast, gpt-*");
  });

  it("answers a known key from memory: no database query after the first lookup, unknown keys cached too", async () => {
    const counted = countingStore(store);
    const local = new KeyService({ store: counted.store, now });
    const { key } = await keys.createKey({ name: "hot", teamId: "search" });
    await local.authenticate(bearer(key));
    const afterFirst = counted.queries();
    expect(afterFirst).toBe(1);
    await Promise.all(Array.from({ length: 100 }, () => local.authenticate(bearer(key))));
    expect(counted.queries()).toBe(afterFirst);
    const bad = "tg-0000000000000000000000000000000000000000000";
    await refusal(local.authenticate(bearer(bad)));
    await refusal(local.authenticate(bearer(bad)));
    expect(counted.queries()).toBe(afterFirst + 1);
    await local.close();
  });

  it("shares one lookup between concurrent first requests for a key", async () => {
    const counted = countingStore(store);
    const local = new KeyService({ store: counted.store, now });
    const { key } = await keys.createKey({ name: "burst", teamId: "search" });
    await Promise.all(Array.from({ length: 50 }, () => local.authenticate(bearer(key))));
    expect(counted.queries()).toBe(1);
    await local.close();
  });

  it("syncs keys, teams and orgs declared in routes.yaml, and revokes a key that left the file", async () => {
    const raw = "tg-declaredDeclaredDeclaredDeclaredDeclared1234";
    const hashed = "tg-hashedHashedHashedHashedHashedHashedHash5678";
    const config = AuthConfigSchema.parse({
      orgs: [{ id: "gitops", name: "GitOps Inc" }],
      teams: [{ id: "platform", org: "gitops" }],
      keys: [
        { id: "decl-env", name: "from env", team: "platform", key_env: "DECL_KEY", allowed_aliases: ["fast"] },
        { id: "decl-hash", name: "from hash", team: "platform", key_hash: hashKey(hashed), rpm: 10 },
        { id: "decl-missing", name: "unset env", team: "platform", key_env: "NOT_SET_ANYWHERE" },
      ],
    });
    const { warnings } = await syncDeclared(keys, config, { DECL_KEY: raw });
    expect(warnings.join("\n")).toContain("NOT_SET_ANYWHERE");
    expect(await keys.authenticate(bearer(raw))).toMatchObject({ id: "decl-env", teamId: "platform", orgId: "gitops" });
    expect(await keys.authenticate(bearer(hashed))).toMatchObject({ id: "decl-hash", rpm: 10 });
    expect((await keys.getKey("decl-env")).source).toBe("config");
    // Second start, decl-hash removed from the file.
    const next = { ...config, keys: config.keys.filter((k) => k.id !== "decl-hash") };
    const again = await syncDeclared(keys, next, { DECL_KEY: raw });
    expect(again.warnings.join("\n")).toContain("decl-hash");
    await refusal(keys.authenticate(bearer(hashed)));
    expect((await keys.authenticate(bearer(raw))).id).toBe("decl-env");
  });

  it("is enabled when a key exists or a master key is set", async () => {
    expect(await isAuthEnabled(keys, undefined)).toBe(true);
  });
});

describe("auth enabled or open", () => {
  it("runs open with no key stored and no master key", async () => {
    const backend = await makeBackend("sqlite");
    const store = backend.open();
    await store.migrate();
    const keys = new KeyService({ store });
    expect(await isAuthEnabled(keys, undefined)).toBe(false);
    expect(await isAuthEnabled(keys, "master")).toBe(true);
    await keys.close();
    await store.close();
    await backend.cleanup();
  });
});

describe.each(BACKENDS)("revocation across replicas through Redis pub/sub, %s store", (backendName) => {
  let backend: Backend;
  const stores: Store[] = [];
  const services: KeyService[] = [];
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close();
    for (const s of stores.splice(0)) await s.close();
    await backend.cleanup();
  });

  it("a key revoked on one replica is refused by the other within one second", async () => {
    backend = await makeBackend(backendName);
    const storeA = backend.open();
    const storeB = backend.open();
    stores.push(storeA, storeB);
    await migrateIn(backend, storeA);
    // Two replicas: each its own store connection and its own Redis connections; a long cache TTL so only the
    // pub/sub message can make B forget.
    const a = await KeyService.open({ store: storeA, redisUrl: REDIS_URL, cacheTtlMs: 3_600_000 });
    const b = new KeyService({ store: storeB, bus: await createChangeBus(REDIS_URL), cacheTtlMs: 3_600_000 });
    services.push(a, b);
    await a.tenancy.createOrg({ id: "o" });
    await a.tenancy.createTeam({ id: "t", orgId: "o" });
    const { key, info } = await a.createKey({ name: "shared", teamId: "t" });
    await b.authenticate(bearer(key)); // B has it cached
    const revokedAt = performance.now();
    await a.revokeKey(info.id);
    await waitFor(
      () =>
        b.authenticate(bearer(key)).then(
          () => false,
          () => true,
        ),
      "replica B to refuse the revoked key",
      1_000,
    );
    expect(performance.now() - revokedAt).toBeLessThan(1_000);
  });

  it("a key created on one replica is accepted by the other at once, though it was asked for before", async () => {
    backend = await makeBackend(backendName);
    const store = backend.open();
    stores.push(store);
    await migrateIn(backend, store);
    const a = await KeyService.open({ store, redisUrl: REDIS_URL });
    const b = await KeyService.open({ store, redisUrl: REDIS_URL, negativeTtlMs: 3_600_000 });
    services.push(a, b);
    await a.tenancy.createOrg({ id: "o" });
    await a.tenancy.createTeam({ id: "t", orgId: "o" });
    const { key, info } = await a.createKey({ name: "k", teamId: "t" });
    await a.revokeKey(info.id);
    const { key: fresh } = await a.rotateKey(info.id, 0).catch(() => ({ key }));
    expect(fresh).toBe(key); // a revoked key cannot be rotated
    const created = await a.createKey({ name: "k2", teamId: "t" });
    await waitFor(
      () =>
        b.authenticate(bearer(created.key)).then(
          () => true,
          () => false,
        ),
      "replica B to accept the new key",
      1_000,
    );
  });
});
