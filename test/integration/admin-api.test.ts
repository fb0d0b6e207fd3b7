import { Writable } from "node:stream";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountAdminApi } from "../../src/admin/api.js";
import { KeyService } from "../../src/auth/service.js";
import { createLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import type { Json } from "../helpers/json.js";
import { BACKENDS, type Backend, makeBackend, migrateIn } from "./harness.js";

const MASTER = "master-secret-for-tests-0123456789";

describe.each(BACKENDS)("admin API on %s", (backendName) => {
  let backend: Backend;
  let store: Store;
  let keys: KeyService;
  let app: Hono;
  let budgetsChanged = 0;
  const logLines: string[] = [];
  const secrets: string[] = [];

  const call = async (method: string, path: string, body?: unknown, token: string | null = MASTER) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const res = await app.request(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Json };
  };

  beforeAll(async () => {
    backend = await makeBackend(backendName);
    store = backend.open();
    await migrateIn(backend, store);
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(String(chunk));
        cb();
      },
    });
    keys = new KeyService({ store, logger: createLogger("debug", sink) });
    app = new Hono();
    mountAdminApi(app, { keys, store, masterKey: MASTER, onBudgetsChanged: () => budgetsChanged++ });
  });
  afterAll(async () => {
    await keys.close();
    await store.close();
    await backend.cleanup();
  });

  it("requires the master key: none 401, a wrong one 401 masked, a team key 403 admin_only", async () => {
    const none = await call("GET", "/admin/orgs", undefined, null);
    expect([none.status, none.json.error.code]).toEqual([401, "invalid_api_key"]);
    const wrong = await call("GET", "/admin/orgs", undefined, "not-the-master-key-at-all");
    expect([wrong.status, wrong.json.error.code]).toEqual([401, "invalid_api_key"]);
    expect(wrong.text).not.toContain("not-the-master-key-at-all");
    await call("POST", "/admin/orgs", { id: "o1" });
    await call("POST", "/admin/teams", { id: "t1", org_id: "o1" });
    const created = await call("POST", "/admin/keys", { name: "team key", team_id: "t1" });
    secrets.push(created.json.key);
    const team = await call("GET", "/admin/keys", undefined, created.json.key);
    expect([team.status, team.json.error.code, team.json.error.type]).toEqual([403, "admin_only", "permission_error"]);
  });

  it("answers 503 naming the env variable when no master key is configured", async () => {
    const closed = new Hono();
    mountAdminApi(closed, { keys, store, masterKey: undefined, onBudgetsChanged: () => {} });
    const res = await closed.request("/admin/keys", { headers: { authorization: `Bearer ${MASTER}` } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("TOLLGATE_MASTER_KEY");
  });

  it("creates, lists, gets, updates and deletes orgs and teams", async () => {
    expect((await call("POST", "/admin/orgs", { id: "acme", name: "Acme" })).status).toBe(201);
    expect((await call("POST", "/admin/orgs", { id: "acme" })).status).toBe(409);
    const team = await call("POST", "/admin/teams", { id: "search", org_id: "acme" });
    expect(team.json).toMatchObject({ object: "team", id: "search", org_id: "acme", name: "search" });
    expect((await call("GET", "/admin/orgs")).json.data.map((o: { id: string }) => o.id)).toContain("acme");
    expect((await call("GET", "/admin/teams?org_id=acme")).json.data).toHaveLength(1);
    expect((await call("PATCH", "/admin/teams/search", { name: "Search" })).json.name).toBe("Search");
    expect((await call("PATCH", "/admin/orgs/acme", { name: "ACME" })).json.name).toBe("ACME");
    expect((await call("GET", "/admin/teams/nope")).status).toBe(404);
    expect((await call("DELETE", "/admin/orgs/acme")).status).toBe(409); // still has a team
    await call("POST", "/admin/teams", { id: "tmp", org_id: "acme" });
    expect((await call("DELETE", "/admin/teams/tmp")).json).toMatchObject({ deleted: true });
  });

  it("round-trips a key: created once with its secret, listed and got without, patched", async () => {
    const created = await call("POST", "/admin/keys", {
      name: "ci",
      team_id: "search",
      allowed_aliases: ["gpt-*"],
      rpm: 100,
      priority: "high",
      expires_at: "2030-01-01T00:00:00Z",
      tags: { owner: "alice" },
    });
    expect(created.status).toBe(201);
    const { key, id } = created.json;
    secrets.push(key);
    expect(key).toMatch(/^tg-/);
    expect(created.json).toMatchObject({ team_id: "search", org_id: "acme", rpm: 100, priority: "high" });
    expect(created.json.hint).toBe(`${key.slice(0, 5)}***${key.slice(-4)}`);
    expect((await keys.authenticate(`Bearer ${key}`)).id).toBe(id);

    const got = await call("GET", `/admin/keys/${id}`);
    const listed = await call("GET", "/admin/keys?team_id=search");
    for (const r of [got, listed]) {
      expect(r.text).not.toContain(key);
      expect(r.text).not.toMatch(/[0-9a-f]{64}/); // no hash
      expect(r.text).not.toContain("key_hash");
    }
    expect(got.json.expires_at).toBe("2030-01-01T00:00:00.000Z");
    expect(listed.json.data.map((k: { id: string }) => k.id)).toContain(id);

    const patched = await call("PATCH", `/admin/keys/${id}`, { rpm: null, allowed_aliases: ["fast"] });
    expect(patched.json).toMatchObject({ rpm: null, allowed_aliases: ["fast"] });
    const authed = await keys.authenticate(`Bearer ${key}`);
    expect(authed.rpm).toBeNull();
    expect(() => keys.checkAlias(authed, "gpt-4o")).toThrow(/Allowed models: fast/);
  });

  it("rotates a key: the new secret once, the old one valid for the grace period", async () => {
    const { json: created } = await call("POST", "/admin/keys", { name: "rot", team_id: "search" });
    secrets.push(created.key);
    const rotated = await call("POST", `/admin/keys/${created.id}/rotate`, { grace_seconds: 600 });
    expect(rotated.status).toBe(200);
    secrets.push(rotated.json.key);
    expect(rotated.json.key).not.toBe(created.key);
    expect(rotated.json.previous_valid_until).not.toBeNull();
    expect((await keys.authenticate(`Bearer ${created.key}`)).id).toBe(created.id);
    expect((await keys.authenticate(`Bearer ${rotated.json.key}`)).id).toBe(created.id);
    const immediate = await call("POST", `/admin/keys/${created.id}/rotate`, { grace_seconds: 0 });
    secrets.push(immediate.json.key);
    await expect(keys.authenticate(`Bearer ${rotated.json.key}`)).rejects.toMatchObject({ status: 401 });
  });

  it("revokes a key (POST revoke and DELETE), and purges it with ?purge=true", async () => {
    const { json: a } = await call("POST", "/admin/keys", { name: "a", team_id: "search" });
    const { json: b } = await call("POST", "/admin/keys", { name: "b", team_id: "search" });
    secrets.push(a.key, b.key);
    await keys.authenticate(`Bearer ${a.key}`);
    const revoked = await call("POST", `/admin/keys/${a.id}/revoke`);
    expect(revoked.json.revoked_at).not.toBeNull();
    await expect(keys.authenticate(`Bearer ${a.key}`)).rejects.toMatchObject({ code: "invalid_api_key" });
    expect((await call("POST", `/admin/keys/${a.id}/rotate`, {})).status).toBe(409);
    expect((await call("DELETE", `/admin/keys/${b.id}`)).json.revoked_at).not.toBeNull();
    expect((await call("DELETE", `/admin/keys/${b.id}?purge=true`)).json).toMatchObject({ deleted: true });
    expect((await call("GET", `/admin/keys/${b.id}`)).status).toBe(404);
  });

  it("names the field in validation errors", async () => {
    const cases: [unknown, string][] = [
      [{ team_id: "search" }, "name"],
      [{ name: "x", team_id: "search", rpm: -1 }, "rpm"],
      [{ name: "x", team_id: "search", priority: "urgent" }, "priority"],
      [{ name: "x", team_id: "search", expires_at: "tomorrow" }, "expires_at"],
      [{ name: "x", team_id: "search", secret: "tg-x" }, "secret"],
      [{ name: "x", team_id: "nope" }, "team_id"],
    ];
    for (const [body, param] of cases) {
      const r = await call("POST", "/admin/keys", body);
      expect([r.status, r.json.error.param, r.json.error.type]).toEqual([400, param, "invalid_request_error"]);
      expect(r.json.error.message).toContain(param);
    }
    const notJson = await call("POST", "/admin/keys", "{nope");
    expect([notJson.status, notJson.json.error.code]).toEqual([400, "invalid_json"]);
    const grace = await call("POST", "/admin/keys/whatever/rotate", { grace_seconds: -5 });
    expect([grace.status, grace.json.error.param]).toEqual([400, "grace_seconds"]);
  });

  it("creates, lists, patches and deletes budgets, validated by BudgetSchema, and announces each change", async () => {
    const before = budgetsChanged;
    const created = await call("POST", "/admin/budgets", { scope: "team", id: "search", limit_usd: 100 });
    expect(created.status).toBe(201);
    expect(created.json.id).toMatch(/^bud_/);
    expect(created.json.definition).toMatchObject({ scope: "team", id: "search", period: "monthly", level: "hard" });
    const bad = await call("POST", "/admin/budgets", { scope: "galaxy", id: "x", limit_usd: 1 });
    expect([bad.status, bad.json.error.param]).toEqual([400, "scope"]);
    const none = await call("POST", "/admin/budgets", { scope: "team", id: "x" });
    expect(none.status).toBe(400);
    const patched = await call("PATCH", `/admin/budgets/${created.json.id}`, { limit_usd: 250, level: "soft" });
    expect(patched.json.definition).toMatchObject({ limit_usd: 250, level: "soft" });
    const badPatch = await call("PATCH", `/admin/budgets/${created.json.id}`, { limit_usd: -3 });
    expect([badPatch.status, badPatch.json.error.param]).toEqual([400, "limit_usd"]);
    expect((await call("GET", "/admin/budgets?scope=team&scope_id=search")).json.data).toHaveLength(1);
    expect((await call("GET", `/admin/budgets/${created.json.id}`)).json.definition.limit_usd).toBe(250);
    expect((await call("DELETE", `/admin/budgets/${created.json.id}`)).json.deleted).toBe(true);
    expect((await call("GET", `/admin/budgets/${created.json.id}`)).status).toBe(404);
    expect(budgetsChanged - before).toBe(3);
  });

  it("never logs a raw key (log scan)", () => {
    expect(secrets.length).toBeGreaterThan(5);
    const log = logLines.join("");
    expect(log).toContain("key created");
    expect(log).toContain("***");
    for (const secret of [...secrets, MASTER]) expect(log).not.toContain(secret);
  });
});
