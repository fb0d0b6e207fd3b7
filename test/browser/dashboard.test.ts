import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import pg from "pg";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/usage/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import type { Json } from "../helpers/json.js";
import { TWO_TEAMS_AUTH, twoTeamKeys } from "../helpers/two-teams.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = "test/artifacts";
const PG_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const { master: MASTER, blue: BLUE_KEY, green: GREEN_KEY, env: ENV } = twoTeamKeys();
const DAY_MS = 86_400_000;
const VIEWS = ["overview", "budgets", "models", "cache", "recommendations", "requests"] as const;

const ROUTES = `
providers:
  primary: { type: mock }
  backup: { type: mock }
models:
  chat:
    deployments:
      - { provider: primary, model: gpt-4o-mini }
      - { provider: backup, model: gpt-4o-mini }
  big:
    deployments: [{ provider: primary, model: gpt-4o }]
${TWO_TEAMS_AUTH}
budgets:
  definitions:
    - { scope: org, id: acme, period: monthly, limit_usd: 150 }
    - { scope: team, id: blue, period: monthly, limit_usd: 60, level: hard }
    - { scope: team, id: green, period: monthly, limit_usd: 5, level: soft, warn_at: 0.5 }
    - { scope: key, id: k-green, alias: big, period: weekly, limit_usd: 1 }
`;

/** Six weeks of traffic for two teams: misses and cache hits, streams, errors, two deployments of one alias. */
function seed(nowMs: number): UsageRecord[] {
  const out: UsageRecord[] = [];
  let rnd = 42;
  const next = () => {
    rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
    return rnd / 2 ** 31;
  };
  for (let d = 42; d >= 0; d--) {
    for (const [team, perDay] of [
      ["blue", 14],
      ["green", 8],
    ] as const) {
      for (let i = 0; i < perDay; i++) {
        // Today only up to now; other days spread over the day.
        const ts = d === 0 ? nowMs - (i + 1) * 60_000 : nowMs - d * DAY_MS + Math.floor(next() * 20 * 3_600_000);
        const big = i % 5 === 0;
        const hit = !big && i % 4 === 1;
        const failed = !hit && !big && (i % 7 === 2 || i % 7 === 3);
        const stream = i % 2 === 0;
        const deployment = big ? "primary/gpt-4o" : i % 3 === 2 ? "backup/gpt-4o-mini" : "primary/gpt-4o-mini";
        const cost = big ? 0.05 + next() * 0.05 : 0.004 + next() * 0.01;
        const record: UsageRecord = {
          requestId: `dash-${team}-${d}-${i}-${randomBytes(3).toString("hex")}`,
          ts,
          keyId: `k-${team}`,
          teamId: team,
          orgId: "acme",
          alias: big ? "big" : "chat",
          promptTokens: 400 + Math.floor(next() * 800),
          completionTokens: hit ? 0 : 50 + Math.floor(next() * 300),
          cachedTokens: 0,
          cacheWriteTokens: 0,
          latencyMs: hit ? 3 : Math.floor((big ? 900 : 300) + next() * 700),
          status: failed ? 502 : 200,
          outcome: hit ? "cache_hit" : failed ? "error" : "ok",
          stream,
          endpoint: "chat",
        };
        if (!hit) {
          record.provider = "mock";
          record.deployment = deployment;
          record.upstreamModel = deployment.split("/")[1] as string;
          record.actualCostUsd = failed ? 0 : cost;
          record.estimatedCostUsd = cost * 1.2;
          record.cacheDecision = big ? "bypass" : "miss";
          if (stream) record.ttftMs = Math.floor(80 + next() * 200);
        } else {
          record.actualCostUsd = 0;
          record.cacheDecision = "hit";
          record.savedCostUsd = cost;
          record.savedLatencyMs = 600;
        }
        out.push(record);
      }
    }
  }
  return out;
}

async function seeded(env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  const gw = await startGateway(ROUTES, { ...ENV, ...env });
  for (const r of seed(Date.now())) gw.gateway.services.ledger.record(r);
  await gw.gateway.services.ledger.flush();
  return gw;
}

async function getJson(gw: TestGateway, path: string, key: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${gw.origin}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

/** Everything the page must not do: log an error, throw, or have a request fail. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

async function signIn(page: Page, gw: TestGateway, key: string): Promise<void> {
  await page.goto(`${gw.origin}/dashboard`);
  await page.fill("#key", key);
  await page.click("button[type=submit]");
  await page.waitForSelector("#view [data-ready]");
}

async function open(page: Page, view: string): Promise<void> {
  await page.click(`nav a[href="#${view}"]`);
  await page.waitForSelector(`.app[data-view="${view}"] #view [data-ready]`);
}

/** Non-transparent pixels on each uPlot canvas of the page. */
function inkedPixels(page: Page): Promise<number[]> {
  type Canvas = {
    width: number;
    height: number;
    getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  };
  return page.$$eval(".uplot canvas", (canvases) =>
    (canvases as unknown as Canvas[]).map((c) => {
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) inked++;
      return inked;
    }),
  );
}

describe("the dashboard in a real browser (embedded store)", () => {
  let gw: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    await mkdir(ARTIFACTS, { recursive: true });
    gw = await seeded();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it("loads every view for the admin without an error, draws the charts from the ledger, screenshots each", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    const problems = watch(page);
    await signIn(page, gw, MASTER);
    for (const view of VIEWS) {
      await open(page, view);
      if (view === "overview" || view === "models" || view === "cache") {
        const inked = await inkedPixels(page);
        expect(inked.length, `${view}: charts`).toBeGreaterThan(0);
        for (const n of inked) expect(n, `${view}: a chart is blank`).toBeGreaterThan(500);
      }
      await page.screenshot({ path: `${ARTIFACTS}/${view}.png`, fullPage: true });
    }
    // The admin sees both teams: in the picker and in the month's top teams.
    expect(await page.$$eval("select[aria-label=team] option", (o) => o.map((x) => x.textContent))).toEqual(
      expect.arrayContaining(["blue", "green"]),
    );
    await open(page, "overview");
    const topTeams = await page.locator(".panel", { hasText: "Top teams" }).textContent();
    expect(topTeams).toContain("blue");
    expect(topTeams).toContain("green");
    await open(page, "budgets");
    const budgets = await page.locator("table.budgets").textContent();
    expect(budgets).toContain("org acme");
    expect(budgets).toContain("team green");
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it("shows a team key its own team only", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    const problems = watch(page);
    await signIn(page, gw, BLUE_KEY);
    expect(await page.locator(".badge").textContent()).toContain("blue");
    expect(await page.locator("select[aria-label=team]").count()).toBe(0);
    const topTeams = await page.locator(".panel", { hasText: "Top teams" }).textContent();
    expect(topTeams).toContain("blue");
    expect(topTeams).not.toContain("green");
    expect((await inkedPixels(page)).every((n) => n > 500)).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}/team-overview.png`, fullPage: true });
    await open(page, "budgets");
    const budgets = await page.locator("table.budgets").textContent();
    expect(budgets).toContain("team blue");
    expect(budgets).not.toContain("green");
    expect(budgets).not.toContain("org acme");
    await open(page, "requests");
    const teams = await page.$$eval("table.requests tbody tr td:nth-child(3)", (tds) => tds.map((t) => t.textContent));
    expect(teams.length).toBeGreaterThan(0);
    expect(new Set(teams)).toEqual(new Set(["blue"]));
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("refuses a team key another team's data, whatever it asks", async () => {
    for (const path of ["overview", "budgets", "requests", "timeseries", "models", "cache"]) {
      const other = await getJson(gw, `/api/dashboard/${path}?team=green`, BLUE_KEY);
      expect(other.status, path).toBe(403);
      expect(other.body.error.code).toBe("team_forbidden");
    }
    const own = await getJson(gw, "/api/dashboard/timeseries?by=team", BLUE_KEY);
    expect(own.body.series.map((s: { name: string }) => s.name)).toEqual(["blue"]);
    const requests = await getJson(gw, "/api/dashboard/requests?limit=500", BLUE_KEY);
    expect(new Set(requests.body.data.map((r: { team_id: string }) => r.team_id))).toEqual(new Set(["blue"]));
    const anonymous = await fetch(`${gw.origin}/api/dashboard/overview`);
    expect(anonymous.status).toBe(401);
    // The admin may narrow to a team.
    const green = await getJson(gw, "/api/dashboard/requests?team=green&limit=500", MASTER);
    expect(new Set(green.body.data.map((r: { team_id: string }) => r.team_id))).toEqual(new Set(["green"]));
  });

  it("serves only its allow-listed files", async () => {
    // fetch() would resolve a literal "../" itself: the encoded one reaches the server.
    for (const path of [
      "/dashboard/routes.yaml",
      "/dashboard/vendor%2F..%2F..%2F..%2Fpackage.json",
      "/dashboard/assets.ts",
    ]) {
      const res = await fetch(`${gw.origin}${path}`);
      expect(res.status, path).toBe(404);
    }
    const page = await fetch(`${gw.origin}/dashboard`);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self' 'sha256-");
    expect((await fetch(`${gw.origin}/dashboard/vendor/uPlot.esm.js`)).status).toBe(200);
  });
});

describe("the dashboard's JSON on Postgres", () => {
  const schema = `t_dash_${randomBytes(4).toString("hex")}`;
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await seeded({ DATABASE_URL: PG_URL, TOLLGATE_DB_SCHEMA: schema });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  it("answers every view, scoped the same way as on the embedded store", async () => {
    const overview = await getJson(gw, "/api/dashboard/overview", MASTER);
    expect(overview.status).toBe(200);
    expect(overview.body.top.teams.map((t: { id: string }) => t.id).sort()).toEqual(["blue", "green"]);
    expect(overview.body.period.spend_usd).toBeGreaterThan(0);
    expect(overview.body.period.budget_usd).toBe(150);

    const series = await getJson(gw, "/api/dashboard/timeseries?by=team&days=42", MASTER);
    expect(series.body.series.map((s: { name: string }) => s.name).sort()).toEqual(["blue", "green"]);
    expect(series.body.buckets.length).toBe(42);

    const budgets = await getJson(gw, "/api/dashboard/budgets", BLUE_KEY);
    expect(budgets.body.data.map((b: { scope_label: string }) => b.scope_label)).toEqual(["team blue"]);
    expect(budgets.body.data[0].spent_usd).toBeGreaterThan(0);

    const models = await getJson(gw, "/api/dashboard/models?days=14", MASTER);
    const mini = models.body.data.filter((r: { alias: string }) => r.alias === "chat");
    expect(mini.map((r: { deployment: string }) => r.deployment).sort()).toEqual([
      "backup/gpt-4o-mini",
      "primary/gpt-4o-mini",
    ]);
    for (const r of mini) {
      expect(r.p50_ms).toBeGreaterThan(0);
      expect(r.p95_ms).toBeGreaterThanOrEqual(r.p50_ms);
      expect(r.ttft_p50_ms).toBeGreaterThan(0);
      expect(r.error_rate).toBeGreaterThan(0);
      expect(r.breaker).toBe("closed");
    }

    const cache = await getJson(gw, "/api/dashboard/cache?days=30", GREEN_KEY);
    expect(cache.body.totals.hit_rate).toBeGreaterThan(0);
    expect(cache.body.totals.saved_usd).toBeGreaterThan(0);

    const requests = await getJson(gw, "/api/dashboard/requests?limit=50", GREEN_KEY);
    expect(requests.body.data).toHaveLength(50);
    expect(requests.body.prompt_bodies).toBe(false);
    expect(new Set(requests.body.data.map((r: { team_id: string }) => r.team_id))).toEqual(new Set(["green"]));
    expect((await getJson(gw, "/api/dashboard/overview?team=blue", GREEN_KEY)).status).toBe(403);
  });
});
