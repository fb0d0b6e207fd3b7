import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAlertSignature } from "../../src/alerts/index.js";
import type { UsageRecord } from "../../src/usage/index.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { TWO_TEAMS_AUTH, twoTeamKeys } from "../helpers/two-teams.js";

const { master: MASTER, blue: BLUE_KEY, green: GREEN_KEY, env: KEYS_ENV } = twoTeamKeys();
const SECRET = `whsec-${randomBytes(8).toString("hex")}`;
const DAY_MS = 86_400_000;
const PG_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const BLUE_PER_DAY = 10;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver over real HTTP that keeps every delivery and answers 200. */
async function webhookReceiver(deliveries: Delivery[]): Promise<Server> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return server;
}

/** Forty days of spend: blue $10 a day (heading over its limit this month), green $1 a day (far under). */
function seed(nowMs: number): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (let d = 40; d >= 1; d--) {
    for (const [team, usd] of [
      ["blue", BLUE_PER_DAY],
      ["green", 1],
    ] as const) {
      out.push({
        requestId: `fc-${team}-${d}-${randomBytes(3).toString("hex")}`,
        ts: nowMs - d * DAY_MS,
        keyId: `k-${team}`,
        teamId: team,
        orgId: "acme",
        alias: "chat",
        provider: "mock",
        promptTokens: 100,
        completionTokens: 100,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        actualCostUsd: usd,
        latencyMs: 100,
        status: 200,
        outcome: "ok",
        stream: false,
        endpoint: "chat",
      });
    }
  }
  return out;
}

/** Blue's monthly limit: what it spent this month so far plus half of what $10 a day adds by the month's end. */
function blueLimit(nowMs: number): number {
  const now = new Date(nowMs);
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  const spentDays = Math.min(40, Math.floor((nowMs - monthStart) / DAY_MS));
  const remainingDays = (monthEnd - nowMs) / DAY_MS;
  return Math.round((spentDays * BLUE_PER_DAY + (remainingDays * BLUE_PER_DAY) / 2 + 0.5) * 100) / 100;
}

describe("spend forecasts and anomalies", () => {
  let gw: TestGateway;
  let receiver: Server;
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    receiver = await webhookReceiver(deliveries);
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const now = Date.now();
    gw = await startGateway(
      `
providers:
  primary: { type: mock }
models:
  chat:
    deployments: [{ provider: primary, model: gpt-4o-mini }]
${TWO_TEAMS_AUTH}
budgets:
  forecast_alert_interval_s: 1
  definitions:
    - { scope: team, id: blue, period: monthly, limit_usd: ${blueLimit(now)}, level: hard }
    - { scope: team, id: green, period: monthly, limit_usd: 1000, level: hard }
  alerts:
    - { url: "${url}", secret: "\${ALERT_SECRET}" }
`,
      { ...KEYS_ENV, ALERT_SECRET: SECRET },
    );
    for (const r of seed(now)) gw.gateway.services.ledger.record(r);
    await gw.gateway.services.ledger.flush();
  });

  afterAll(async () => {
    await gw?.close();
    await new Promise((r) => receiver?.close(r));
  });

  const get = async (path: string, key: string, method = "GET") => {
    const res = await fetch(`${gw.origin}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  type Projection = {
    scope: string;
    forecastPeriodEndUsd: number;
    breaches: { limitUsd: number; date: string | null }[];
  };

  it("projects each team's month end; blue's hard limit is reached before the period ends, green's is not", async () => {
    const { status, body } = await get("/api/forecasts/refresh", MASTER, "POST");
    expect(status).toBe(200);
    const data = body.data as Projection[];
    const blue = data.find((p) => p.scope === "team blue");
    const green = data.find((p) => p.scope === "team green");
    expect(blue?.breaches[0]?.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(blue?.forecastPeriodEndUsd).toBeGreaterThan(blue?.breaches[0]?.limitUsd ?? Infinity);
    expect(green?.breaches[0]?.date).toBeNull();
  });

  it("shows a team key only its team, and refits only for the master key", async () => {
    const { body } = await get("/api/forecasts", BLUE_KEY);
    expect((body.data as Projection[]).map((p) => p.scope)).toEqual(["team blue"]);
    const refit = await get("/api/forecasts/refresh", GREEN_KEY, "POST");
    expect(refit.status).toBe(403);
    expect(refit.body).toMatchObject({ error: { code: "admin_only" } });
    expect((await get("/api/forecasts", "tg-not-a-key")).status).toBe(401);
  });

  it("lists the watched anomaly scopes: all for the master key, a team key's own team and keys only", async () => {
    // The watch reads the ledger's minutes; the seeded history is older than its start, so replay it.
    await gw.gateway.services.anomalies?.backfill();
    const scopesOf = async (key: string) =>
      ((await get("/api/anomalies", key)).body.scopes as { scope: string }[]).map((s) => s.scope).sort();
    expect(await scopesOf(MASTER)).toEqual(["key:k-blue", "key:k-green", "org:acme", "team:blue", "team:green"]);
    expect(await scopesOf(BLUE_KEY)).toEqual(["key:k-blue", "team:blue"]);
    expect((await get("/api/anomalies", MASTER)).body.open).toEqual([]);
  });

  it("sends one signed projected_budget_breach alert for blue, however often it refits", async () => {
    const projected = () => deliveries.filter((d) => JSON.parse(d.body).kind === "projected_budget_breach");
    await eventually(() => expect(projected()).toHaveLength(1), 8_000);
    await new Promise((r) => setTimeout(r, 2_500)); // two more refits: no second alert
    expect(projected()).toHaveLength(1);
    const [alert] = projected() as [Delivery];
    const body = JSON.parse(alert.body);
    expect(body).toMatchObject({ type: "tollgate.forecast.alert", scope: "team blue" });
    expect(body.projectedDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const ts = String(alert.headers["x-tollgate-timestamp"]);
    expect(verifyAlertSignature(SECRET, ts, alert.body, String(alert.headers["x-tollgate-signature"]))).toBe(true);
  }, 20_000);
});

describe("projected breach alerts across replicas (Redis, Postgres)", () => {
  const run = randomBytes(4).toString("hex");
  const schema = `t_forecast_${run}`;
  const team = `blue-${run}`;
  const replicas: TestGateway[] = [];
  let receiver: Server;
  const deliveries: Delivery[] = [];

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await new Promise((r) => receiver?.close(r));
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  it("sends one alert between two replicas refitting the same shared ledger", async () => {
    receiver = await webhookReceiver(deliveries);
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const now = Date.now();
    const yaml = `
providers:
  primary: { type: mock }
models:
  chat:
    deployments: [{ provider: primary, model: gpt-4o-mini }]
budgets:
  forecast_alert_interval_s: 1
  definitions:
    - { scope: team, id: ${team}, period: monthly, limit_usd: ${blueLimit(now)}, level: hard }
  alerts:
    - { url: "${url}" }
`;
    const env = { REDIS_URL: "redis://127.0.0.1:6379", DATABASE_URL: PG_URL, TOLLGATE_DB_SCHEMA: schema };
    replicas.push(await startGateway(yaml, env));
    replicas.push(await startGateway(yaml, env));
    const [first] = replicas as [TestGateway];
    for (const r of seed(now)) {
      if (r.teamId === "blue") first.gateway.services.ledger.record({ ...r, teamId: team });
    }
    await first.gateway.services.ledger.flush();
    const projected = () => deliveries.filter((d) => JSON.parse(d.body).kind === "projected_budget_breach");
    await eventually(() => expect(projected()).toHaveLength(1), 8_000);
    await new Promise((r) => setTimeout(r, 3_000)); // both replicas refit again: still one
    expect(projected()).toHaveLength(1);
    expect(JSON.parse((projected()[0] as Delivery).body)).toMatchObject({ scope: `team ${team}` });
  }, 30_000);
});
