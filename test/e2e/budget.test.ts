import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAlertSignature } from "../../src/alerts/index.js";
import { generateKey } from "../../src/auth/key-format.js";
import type { ChatCompletionRequest } from "../../src/openai/schema.js";
import { countPromptTokens } from "../../src/tokens/index.js";
import { listRecords } from "../../src/usage/index.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { type GatewayProcess, spawnGateway } from "../helpers/gateway-process.js";
import { meteredModels } from "../helpers/metered-routes.js";
import { closedPort } from "../helpers/routes.js";
import { expectNoSecretsInLogs, logText } from "../helpers/secrets-scan.js";
import { TcpProxy } from "../integration/harness.js";
import { type MeteredMock, startMeteredMock } from "../mocks/metered-openai.js";

const REDIS_URL = "redis://127.0.0.1:6379";
// gpt-4o-mini in the bundled price database (USD per token); every 200's usage.cost is checked against it.
const INPUT_USD = 0.15e-6;
const OUTPUT_USD = 0.6e-6;
const LIMIT_USD = 0.05;
const REQUESTS = 510;
// Budget counters live under the fixed "tollgate" prefix: ids unique to this run keep runs apart.
const RUN = randomBytes(4).toString("hex");
const KEY = generateKey();

const logLines: string[] = [];
const processes: GatewayProcess[] = [];
const gateways: TestGateway[] = [];
let mock: MeteredMock;

function routes(keyId: string, budgets: string, extra = ""): string {
  return `
${meteredModels(mock.url)}
auth:
  orgs: [{ id: org-${RUN} }]
  teams: [{ id: team-${RUN}, org: org-${RUN} }]
  keys:
    - { id: ${keyId}, name: budget test, team: team-${RUN}, key_env: TG_BUDGET_KEY }
budgets:
${budgets}
${extra}`;
}

interface Planned {
  body: ChatCompletionRequest & { max_tokens: number };
  promptTokens: number;
  maxCostUsd: number;
}

/** Varied prompt (10..1209 words) and completion (16..495 tokens) sizes; the mock bills exactly prompt + max_tokens. */
function plan(i: number, words = 10 + ((i * 137) % 1200), maxTokens = 16 + ((i * 71) % 480)): Planned {
  const body = {
    model: "mini",
    max_tokens: maxTokens,
    messages: [{ role: "user" as const, content: `question ${i}: ${"hello ".repeat(words)}` }],
  };
  const promptTokens = countPromptTokens(body as ChatCompletionRequest, "gpt-4o-mini").tokens;
  return { body, promptTokens, maxCostUsd: promptTokens * INPUT_USD + maxTokens * OUTPUT_USD };
}

interface Answer {
  status: number;
  headers: Headers;
  body: {
    usage?: { prompt_tokens: number; completion_tokens: number; cost?: number };
    error?: { type: string; code: string; message: string };
  };
}

async function post(origin: string, body: object, key = KEY): Promise<Answer> {
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer["body"] };
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/**
 * Fires every planned request at once, round-robin over `origins`, and checks the reservation promise:
 * the actual spend never passes the limit, and refusals came only once the headroom left (settled spend plus
 * what in-flight requests held) was below the refused request's maximum cost.
 */
async function overspend(origins: string[]): Promise<void> {
  const planned = Array.from({ length: REQUESTS }, (_, i) => plan(i));
  const served = mock.served();
  const answers = await Promise.all(planned.map((p, i) => post(origins[i % origins.length] as string, p.body)));

  let spent = 0;
  let accepted = 0;
  let refused = 0;
  for (const [i, a] of answers.entries()) {
    const p = planned[i] as Planned;
    if (a.status === 200) {
      accepted++;
      const usage = a.body.usage;
      expect(usage?.prompt_tokens).toBe(p.promptTokens);
      expect(usage?.completion_tokens).toBe(p.body.max_tokens);
      const repriced = p.promptTokens * INPUT_USD + p.body.max_tokens * OUTPUT_USD;
      expect(usage?.cost).toBeCloseTo(repriced, 12);
      spent += usage?.cost ?? Number.POSITIVE_INFINITY;
    } else {
      refused++;
      expect(a.status).toBe(429);
      expect(a.body.error).toMatchObject({ type: "insufficient_quota", code: "budget_exceeded" });
      expect(a.body.error?.message).toContain(`key ${`k-${RUN}`}`);
      expect(a.headers.get("x-should-retry")).toBe("false");
    }
  }
  const maxSingle = Math.max(...planned.map((p) => p.maxCostUsd));
  expect(accepted + refused).toBe(REQUESTS);
  expect(refused).toBeGreaterThan(0); // the demand (~0.12 USD) is over twice the budget
  expect(mock.served() - served).toBe(accepted); // nothing refused reached the upstream
  expect(spent).toBeLessThanOrEqual(LIMIT_USD);
  // Every request was answered at its reserved maximum, so a refusal means spent + held + its cost > limit,
  // and all that was held was then spent: the final spend is within one request's maximum of the limit.
  expect(spent).toBeGreaterThanOrEqual(LIMIT_USD - maxSingle);

  // Once everything settled: a request that fits in the headroom left passes, one that does not is refused.
  const headroom = LIMIT_USD - spent;
  const small = plan(9_001, 1, 1);
  expect(small.maxCostUsd).toBeLessThan(headroom);
  const fits = await post(origins[0] as string, small.body);
  expect(fits.status).toBe(200);
  const left = headroom - (fits.body.usage?.cost ?? 0);
  const big = plan(9_002, 1200, Math.ceil(left / OUTPUT_USD) + 1);
  expect(big.maxCostUsd).toBeGreaterThan(left);
  const over = await post(origins[origins.length - 1] as string, big.body);
  expect(over.status).toBe(429);
  expect(over.body.error?.code).toBe("budget_exceeded");
}

beforeAll(async () => {
  mock = await startMeteredMock({ delayMs: 20 });
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  for (const p of processes) logLines.push(...p.lines);
  await Promise.all(gateways.map((g) => g.close()));
  for (const g of gateways) logLines.push(...logText(g.logs));
  await mock.close();
  await deleteRedisKeys(`tollgate:*${RUN}*`);
  // Log hygiene across every gateway this file ran: no raw key, no webhook secret.
  expectNoSecretsInLogs(logLines, [KEY, ALERT_SECRET]);
});

const ALERT_SECRET = `whsec-${randomBytes(12).toString("hex")}`;

describe.sequential("a hard budget is never overspent", () => {
  it("holds across three gateway processes sharing one Redis, under 510 concurrent requests", async () => {
    const yaml = routes(
      `k-${RUN}`,
      `  definitions:\n    - { scope: key, id: k-${RUN}, period: total, limit_usd: ${LIMIT_USD} }`,
    );
    const started = await Promise.all(
      [0, 1, 2].map(() => spawnGateway(yaml, { TG_BUDGET_KEY: KEY, REDIS_URL: REDIS_URL })),
    );
    processes.push(...started);
    await overspend(started.map((p) => p.origin));
  }, 45_000);

  it("holds in embedded mode, one in-process gateway with in-memory counters", async () => {
    const yaml = routes(
      `k-${RUN}`,
      `  definitions:\n    - { scope: key, id: k-${RUN}, period: daily, limit_usd: ${LIMIT_USD} }`,
    );
    const gw = await startGateway(yaml, { TG_BUDGET_KEY: KEY });
    gateways.push(gw);
    await overspend([gw.origin]);
    expect(gw.logs.some((l) => l.msg === "budget.breached" && l.level === "warn")).toBe(true);
    // Each request's own log line carries its budget decision.
    const lines = gw.logs.filter((l) => l.msg === "request");
    expect(lines.some((l) => l.budget === "reserved" && l.status === 200)).toBe(true);
    expect(lines.some((l) => String(l.budget).startsWith("breached: hard key") && l.status === 429)).toBe(true);
    // Every refusal is in the ledger as a budget block, with the decision that made it.
    await gw.gateway.services.ledger.flush();
    const records = await listRecords(gw.gateway.services.store, {}, 10_000);
    const blocked = records.filter((r) => r.outcome === "budget_block");
    expect(blocked.length).toBe(records.filter((r) => r.status === 429).length);
    expect(blocked.length).toBeGreaterThan(0);
    expect(blocked[0]?.budgetDecision).toMatch(/^breached: hard key k-/);
    expect(records.filter((r) => r.status === 200).every((r) => r.budgetDecision === "reserved")).toBe(true);
  }, 30_000);
});

describe.sequential("soft budget alerts", () => {
  let receiver: Server;
  const deliveries: { status: number; headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        // The first delivery fails: the sender retries it.
        const status = deliveries.length === 0 ? 503 : 200;
        deliveries.push({ status, headers: req.headers, body });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it("warns past 50% in a header and sends exactly one signed alert, retried when the receiver fails", async () => {
    const limit = 0.01;
    const keyId = `k-soft-${RUN}`;
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const yaml = routes(
      keyId,
      `  definitions:\n    - { scope: key, id: ${keyId}, period: daily, limit_usd: ${limit}, level: soft, warn_at: 0.5 }\n  alerts:\n    - { url: "${url}", secret: "\${ALERT_SECRET}" }`,
    );
    const gw = await startGateway(yaml, { TG_BUDGET_KEY: KEY, ALERT_SECRET });
    gateways.push(gw);
    // ~2% of the limit per request; stop between 54% and 56%, below the next 10% step (which would alert again).
    const p = plan(1, 100, 300);
    let spent = 0;
    let warned = 0;
    while (spent < 0.54 * limit) {
      const a = await post(gw.origin, p.body);
      expect(a.status).toBe(200);
      const warning = a.headers.get("x-tollgate-budget-warning");
      if (spent < 0.5 * limit) expect(warning).toBeNull();
      if (spent >= 0.52 * limit) expect(warning).toMatch(new RegExp(`^key ${keyId} \\(daily\\): 5\\d% used$`));
      if (warning) warned++;
      spent += a.body.usage?.cost ?? 0;
    }
    expect(warned).toBeGreaterThan(0);

    await eventually(() => expect(deliveries.filter((d) => d.status === 200)).toHaveLength(1), 5_000);
    await new Promise((r) => setTimeout(r, 800)); // no second alert follows
    expect(deliveries).toHaveLength(2);
    const [failed, delivered] = deliveries as [(typeof deliveries)[0], (typeof deliveries)[0]];
    expect(delivered.headers["x-tollgate-event-id"]).toBe(failed.headers["x-tollgate-event-id"]);
    const ts = String(delivered.headers["x-tollgate-timestamp"]);
    const signature = String(delivered.headers["x-tollgate-signature"]);
    expect(verifyAlertSignature(ALERT_SECRET, ts, delivered.body, signature)).toBe(true);
    expect(verifyAlertSignature("another-secret", ts, delivered.body, signature)).toBe(false);
    expect(JSON.parse(delivered.body)).toMatchObject({
      type: "tollgate.budget.alert",
      kind: "soft",
      scope: `key ${keyId}`,
      threshold: 0.5,
    });
  }, 30_000);
});

describe.sequential("Redis down", () => {
  const routesFor = (keyId: string, mode: string) =>
    routes(
      keyId,
      `  redis_down: ${mode}\n  definitions:\n    - { scope: key, id: ${keyId}, period: daily, limit_usd: 1 }`,
    );

  it("fails closed by default: 503 budget_unavailable, no crash, served again once Redis returns", async () => {
    const proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.start();
    const proc = await spawnGateway(routesFor(`k-down-${RUN}`, "fail_closed"), {
      TG_BUDGET_KEY: KEY,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    });
    processes.push(proc);
    try {
      expect((await post(proc.origin, plan(0, 10, 10).body)).status).toBe(200);
      await proxy.stop(); // Redis goes away under the running gateway
      let a = await post(proc.origin, plan(1, 10, 10).body);
      for (let i = 0; i < 20 && a.status === 200; i++) a = await post(proc.origin, plan(1, 10, 10).body);
      for (let i = 0; i < 5; i++) {
        expect(a.status).toBe(503);
        expect(a.body.error).toMatchObject({ type: "api_error", code: "budget_unavailable" });
        expect(a.body.error?.message).toContain("budget store is unreachable");
        expect(a.headers.get("retry-after")).toBe("1");
        a = await post(proc.origin, plan(i, 10, 10).body);
      }
      await new Promise((r) => setTimeout(r, 1_000)); // reconnect attempts come and go
      expect(proc.child.exitCode).toBeNull();
      await proxy.start(); // same port
      const back = async () => expect((await post(proc.origin, plan(2, 10, 10).body)).status).toBe(200);
      for (let i = 0; ; i++) {
        try {
          await back();
          break;
        } catch (err) {
          if (i > 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // KNOWN BUG, not asserted here: after SIGTERM with Redis unreachable the process does not exit within
      // 8 s; afterAll's stop() SIGKILLs it.
    } finally {
      await proxy.stop();
    }
  }, 30_000);

  it("serves unchecked with budgets.redis_down: fail_open", async () => {
    const proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.start();
    const gw = await startGateway(routesFor(`k-open-${RUN}`, "fail_open"), {
      TG_BUDGET_KEY: KEY,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    });
    gateways.push(gw);
    await proxy.stop();
    for (let i = 0; i < 5; i++) expect((await post(gw.origin, plan(i, 10, 10).body)).status).toBe(200);
    await eventually(() => expect(gw.logs.some((l) => l.msg === "budget.unchecked")).toBe(true));
  }, 30_000);

  it("starts with Redis unreachable and fails closed", async () => {
    const port = await closedPort();
    const proc = await spawnGateway(routesFor(`k-start-${RUN}`, "fail_closed"), {
      TG_BUDGET_KEY: KEY,
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    processes.push(proc);
    const a = await post(proc.origin, plan(0, 10, 10).body);
    expect(a.status).toBe(503);
    expect(a.body.error?.code).toBe("budget_unavailable");
  }, 30_000);
});
