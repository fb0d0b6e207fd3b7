import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../../src/auth/key-format.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { runTollgate } from "../helpers/gateway-process.js";
import { meteredModels } from "../helpers/metered-routes.js";
import { expectNoSecretsInLogs, logText } from "../helpers/secrets-scan.js";
import { type MeteredMock, startMeteredMock } from "../mocks/metered-openai.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
// Ids unique to this run: the Postgres store and Redis are shared with other runs.
const RUN = randomBytes(4).toString("hex");
const MASTER = `mk-${randomBytes(16).toString("hex")}`;
const KEY_A = generateKey();
const KEY_B = generateKey();
const KEY_EXPIRED = generateKey();
const KEY_REVOKED = generateKey();
const secrets: string[] = [MASTER, KEY_A, KEY_B, KEY_EXPIRED, KEY_REVOKED];

let mock: MeteredMock;
const gateways: TestGateway[] = [];

function routes(): string {
  return `
${meteredModels(mock.url)}
  big:
    deployments:
      - provider: metered
        model: gpt-4o
auth:
  orgs: [{ id: org-${RUN} }]
  teams:
    - { id: team-a-${RUN}, org: org-${RUN} }
    - { id: team-b-${RUN}, org: org-${RUN} }
  keys:
    - { id: k-a-${RUN}, name: a, team: team-a-${RUN}, key_env: KEY_A, allowed_aliases: [mini, "mini-*"] }
    - { id: k-b-${RUN}, name: b, team: team-b-${RUN}, key_env: KEY_B }
    - { id: k-exp-${RUN}, name: expired, team: team-a-${RUN}, key_env: KEY_EXPIRED, expires_at: "2020-01-01T00:00:00Z" }
    - { id: k-rev-${RUN}, name: to revoke, team: team-a-${RUN}, key_env: KEY_REVOKED }
`;
}

// Both gateways share this Postgres schema (and so their keys); no other test's keys are in it.
const ENV = {
  KEY_A,
  KEY_B,
  KEY_EXPIRED,
  KEY_REVOKED,
  TOLLGATE_MASTER_KEY: MASTER,
  TOLLGATE_DB_SCHEMA: `t_keys_${RUN}`,
};

async function chat(origin: string, key: string | undefined, model = "mini") {
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, max_tokens: 3, messages: [{ role: "user", content: "hi" }] }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { code: string; message: string; type: string } },
  };
}

async function get(url: string, key?: string) {
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
}

beforeAll(async () => {
  mock = await startMeteredMock();
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await mock.close();
  // Log hygiene: no raw key and no master key in any line any gateway wrote.
  expectNoSecretsInLogs(
    gateways.flatMap((g) => logText(g.logs)),
    secrets,
  );
});

describe.sequential("keys on two replicas sharing Postgres and Redis", () => {
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    a = await startGateway(routes(), { ...ENV, DATABASE_URL: PG_URL, REDIS_URL });
    b = await startGateway(routes(), { ...ENV, DATABASE_URL: PG_URL, REDIS_URL });
    gateways.push(a, b);
  }, 30_000);

  it("refuses a missing key and an unknown key with 401 invalid_api_key", async () => {
    for (const key of [undefined, generateKey(), "not-even-a-key"]) {
      const r = await chat(a.origin, key);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    }
  });

  it("refuses an expired key with 401 key_expired, saying when it expired", async () => {
    const r = await chat(a.origin, KEY_EXPIRED);
    expect(r.status).toBe(401);
    expect(r.body.error?.code).toBe("key_expired");
    expect(r.body.error?.message).toContain("expired at 2020-01-01T00:00:00.000Z");
  });

  it("refuses a model outside allowed_aliases with 403 and the allowed list", async () => {
    expect((await chat(a.origin, KEY_A, "mini")).status).toBe(200);
    const r = await chat(a.origin, KEY_A, "big");
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ type: "permission_error", code: "model_not_allowed" });
    expect(r.body.error?.message).toContain("Allowed models: mini, mini-*");
    expect((await chat(a.origin, KEY_B, "big")).status).toBe(200); // no list: every alias
  });

  it("a revocation through the admin API on replica A takes effect on replica B within one second", async () => {
    expect((await chat(b.origin, KEY_REVOKED)).status).toBe(200); // B has the key cached now
    const res = await fetch(`${a.origin}/admin/keys/k-rev-${RUN}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER}` },
    });
    expect(res.status).toBe(200);
    const revokedAt = Date.now();
    let last = 200;
    while (Date.now() - revokedAt < 1_000) {
      last = (await chat(b.origin, KEY_REVOKED)).status;
      if (last === 401) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(last).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    expect((await chat(b.origin, KEY_REVOKED)).body.error?.message).toContain("revoked");
  });

  it("the admin API takes only the master key: 401 without it, 403 for a team key", async () => {
    expect((await get(`${b.origin}/admin/keys`)).status).toBe(401);
    const team = await get(`${b.origin}/admin/keys`, KEY_A);
    expect(team.status).toBe(403);
    expect((await get(`${b.origin}/admin/keys`, `not-the-master-${RUN}`)).status).toBe(401);
    const master = await get(`${b.origin}/admin/keys?team_id=team-a-${RUN}`, MASTER);
    expect(master.status).toBe(200);
    const listed = JSON.stringify(master.body);
    for (const s of secrets) expect(listed).not.toContain(s); // never a secret, nor a hash of one in clear
  });

  it("a team key reads only its own team's usage", async () => {
    expect((await chat(a.origin, KEY_A, "mini")).status).toBe(200);
    expect((await chat(a.origin, KEY_B, "mini")).status).toBe(200);
    // Records reach Postgres in batches (every 200 ms by default; later under a loaded machine).
    let rows: { group: string | null }[] = [];
    for (let i = 0; i < 150; i++) {
      const r = await get(`${a.origin}/v1/usage?group_by=team`, KEY_A);
      expect(r.status).toBe(200);
      rows = r.body.data as { group: string | null }[];
      if (rows.some((row) => row.group === `team-a-${RUN}`)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(rows.map((r) => r.group)).toEqual([`team-a-${RUN}`]);
    const byKey = await get(`${a.origin}/v1/usage?group_by=key`, KEY_A);
    for (const row of byKey.body.data as { group: string }[])
      expect(row.group).toMatch(new RegExp(`^k-(a|rev|exp)-${RUN}$`));
    const other = await get(`${a.origin}/v1/usage?team=team-b-${RUN}`, KEY_A);
    expect(other.status).toBe(403);
    expect(other.body.error?.code).toBe("team_forbidden");
    const own = await get(`${a.origin}/v1/usage?team=team-b-${RUN}&group_by=team`, KEY_B);
    expect(own.status).toBe(200);
    // Team b's record may land in a later batch than team a's.
    await eventually(async () => {
      const all = await get(`${a.origin}/v1/usage?group_by=team`, MASTER);
      const teams = (all.body.data as { group: string }[]).map((r) => r.group);
      expect(teams).toEqual(expect.arrayContaining([`team-a-${RUN}`, `team-b-${RUN}`]));
    }, 15_000);
  }, 30_000);
});

describe.sequential("tollgate keys create (the CLI) on a gateway's data dir", () => {
  it("prints a tg- key once, and that key then authenticates against the running gateway", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-keys-cli-"));
    const gw = await startGateway(routes(), { ...ENV, TOLLGATE_DATA_DIR: dir }); // embedded store in that dir
    gateways.push(gw);
    const created = await runTollgate(["keys", "create", "--team", `team-b-${RUN}`, "--name", "from the cli"], {
      TOLLGATE_DATA_DIR: dir,
    });
    expect(created.code, created.stderr).toBe(0);
    const keys = created.stdout.match(/tg-[0-9A-Za-z]{12,}/g) ?? [];
    expect(keys).toHaveLength(1);
    const key = keys[0] as string;
    secrets.push(key);
    const info = JSON.parse(created.stdout) as { key: string; id: string; team_id?: string };
    expect(info.key).toBe(key);
    // No restart: the key service reads the store on a cache miss.
    const r = await chat(gw.origin, key);
    expect(r.status).toBe(200);
    // Shown once: listing never prints it again.
    const listed = await runTollgate(["keys", "list", "--team", `team-b-${RUN}`], { TOLLGATE_DATA_DIR: dir });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(info.id);
    expect(listed.stdout).not.toContain(key);
    expect(listed.stdout).not.toMatch(/tg-[0-9A-Za-z]{12,}/);
  }, 30_000);
});
