import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdminCommand } from "../../src/admin/cli.js";
import { KeyService } from "../../src/auth/service.js";
import { openStore } from "../../src/store/index.js";
import type { Json } from "../helpers/json.js";

describe("tollgate admin CLI (embedded store)", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const printed: string[] = [];

  async function run(...argv: string[]) {
    let out = "";
    let err = "";
    const code = await runAdminCommand(argv, env, { out: (t) => (out += t), err: (t) => (err += t) });
    printed.push(out, err);
    return { code, out, err, json: code === 0 ? (JSON.parse(out) as Json) : undefined };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-cli-"));
    env = { TOLLGATE_DATA_DIR: dir };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("creates an org, a team and a key, lists it, rotates and revokes it, printing JSON", async () => {
    expect((await run("orgs", "create", "--id", "acme")).json).toMatchObject({ object: "org", id: "acme" });
    expect((await run("teams", "create", "--org", "acme", "--id", "search")).json).toMatchObject({ org_id: "acme" });
    const created = await run(
      "keys",
      "create",
      "--team",
      "search",
      "--name",
      "ci",
      "--aliases",
      "fast,gpt-*",
      "--rpm",
      "60",
      "--priority",
      "high",
      "--expires",
      "2030-01-01T00:00:00Z",
    );
    expect(created.code).toBe(0);
    const key = created.json?.key as string;
    const id = created.json?.id as string;
    expect(key).toMatch(/^tg-/);
    expect(created.json).toMatchObject({ allowed_aliases: ["fast", "gpt-*"], rpm: 60, priority: "high" });

    const listed = await run("keys", "list", "--team", "search");
    expect(listed.json?.data.map((k: { id: string }) => k.id)).toEqual([id]);
    expect(listed.out).not.toContain(key);

    // The gateway, opening the same store, accepts the key.
    const store = openStore({ sqlitePath: join(dir, "usage.db") });
    const keys = new KeyService({ store });
    expect((await keys.authenticate(`Bearer ${key}`)).id).toBe(id);

    const rotated = await run("keys", "rotate", id, "--grace", "60");
    expect(rotated.json?.key).toMatch(/^tg-/);
    expect(rotated.json?.previous_valid_until).not.toBeNull();

    const revoked = await run("keys", "revoke", id);
    expect(revoked.code).toBe(0);
    expect(revoked.json?.revoked_at).not.toBeNull();
    keys.clearCache(); // no Redis here: a running gateway would notice within its cache TTL
    await expect(keys.authenticate(`Bearer ${key}`)).rejects.toMatchObject({ status: 401 });
    await keys.close();
    await store.close();
  });

  it("sets and lists budgets; setting the same scope and period again replaces it", async () => {
    const set = await run(
      "budgets",
      "set",
      "--scope",
      "team",
      "--id",
      "search",
      "--period",
      "monthly",
      "--limit-usd",
      "100",
    );
    expect(set.json?.definition).toMatchObject({ scope: "team", id: "search", limit_usd: 100, level: "hard" });
    const again = await run(
      "budgets",
      "set",
      "--scope",
      "team",
      "--id",
      "search",
      "--limit-usd",
      "150",
      "--level",
      "soft",
    );
    expect(again.json?.id).toBe(set.json?.id);
    const listed = await run("budgets", "list");
    expect(listed.json?.data).toHaveLength(1);
    expect(listed.json?.data[0].definition).toMatchObject({ limit_usd: 150, level: "soft" });
  });

  it("exits 1 with an OpenAI-shaped error on a refused operation, 2 on a usage error", async () => {
    const unknownTeam = await run("keys", "create", "--team", "nope", "--name", "x");
    expect(unknownTeam.code).toBe(1);
    expect(JSON.parse(unknownTeam.err).error).toMatchObject({ param: "team_id", code: "invalid_value" });
    expect((await run("keys", "revoke", "key_missing")).code).toBe(1);
    expect((await run("keys", "create", "--name", "x")).code).toBe(2);
    expect((await run("keys", "create", "--team", "search", "--name", "x", "--rpm", "ten")).code).toBe(2);
    expect((await run("keys", "fly")).code).toBe(2);
    expect((await run("budgets", "set", "--scope", "team", "--id", "search")).err).toMatch(/limit/);
    expect((await run("--bogus")).code).toBe(2);
  });

  it("prints each secret only in the create/rotate answer", () => {
    const secrets = printed.join("").match(/tg-[0-9A-Za-z]{43}/g) ?? [];
    expect(secrets.length).toBe(2); // one create, one rotate
  });
});
