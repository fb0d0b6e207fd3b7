import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../../src/auth/key-format.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type MeteredMock, startMeteredMock } from "../mocks/metered-openai.js";

// Budget guardrails and priority tiers through the HTTP API of an embedded gateway: degradation to a cheaper
// alias, the emergency brake (tripped, listed, reset by an admin, lifted by its cool-down), and high-before-low
// service with low shed first when a deployment is saturated.

const RUN = randomBytes(4).toString("hex");
const MASTER = `tg-master-${randomBytes(16).toString("hex")}`;
const KEYS = { high: generateKey(), normal: generateKey(), low: generateKey() };

interface Answer {
  status: number;
  headers: Headers;
  body: { model?: string; usage?: { cost?: number }; error?: { type: string; code: string; message: string } };
}

async function chat(origin: string, key: string, model: string, maxTokens = 200): Promise<Answer> {
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, max_tokens: maxTokens, messages: [{ role: "user", content: "hello there" }] }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer["body"] };
}

function admin(origin: string, path: string, body?: object): Promise<Response> {
  return fetch(`${origin}/admin${path}`, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${MASTER}`, "content-type": "application/json" },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

function routes(mockUrl: string, budgets: string, extra = ""): string {
  return `
providers:
  metered:
    type: openai-compatible
    base_url: ${mockUrl}
models:
  premium:
    deployments:
      - { provider: metered, model: gpt-4o }
  mini:
    deployments:
      - { provider: metered, model: gpt-4o-mini }
${extra}
auth:
  orgs: [{ id: org-${RUN} }]
  teams: [{ id: team-${RUN}, org: org-${RUN} }]
  keys:
    - { id: high-${RUN}, name: high, team: team-${RUN}, key_env: KEY_HIGH, priority: high }
    - { id: normal-${RUN}, name: normal, team: team-${RUN}, key_env: KEY_NORMAL }
    - { id: low-${RUN}, name: low, team: team-${RUN}, key_env: KEY_LOW, priority: low }
budgets:
  definitions:
${budgets}
`;
}

const env = { KEY_HIGH: KEYS.high, KEY_NORMAL: KEYS.normal, KEY_LOW: KEYS.low, TOLLGATE_MASTER_KEY: MASTER };
const gateways: TestGateway[] = [];
let mock: MeteredMock;

beforeAll(async () => {
  mock = await startMeteredMock();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await mock.close();
});

describe("degradation", () => {
  it("serves with the cheaper alias past the threshold, and says so in x-tollgate-degraded", async () => {
    // gpt-4o at 200 completion tokens is about $0.002 a request: a $0.01 budget passes half after ~3.
    const gw = await startGateway(
      routes(
        mock.url,
        `    - { scope: team, id: team-${RUN}, alias: premium, limit_usd: 0.01, level: soft, warn_at: 0.9, degrade: { at: 0.5, to: mini } }`,
      ),
      env,
    );
    gateways.push(gw);
    let spent = 0;
    let served = 0;
    while (spent < 0.005) {
      const a = await chat(gw.origin, KEYS.normal, "premium");
      expect(a.status).toBe(200);
      expect(a.headers.get("x-tollgate-degraded")).toBeNull();
      expect(a.body.model).toBe("gpt-4o");
      spent += a.body.usage?.cost ?? 1;
      served++;
    }
    expect(served).toBeGreaterThan(1);
    const degraded = await chat(gw.origin, KEYS.normal, "premium");
    expect(degraded.status).toBe(200);
    expect(degraded.headers.get("x-tollgate-degraded")).toBe("premium -> mini");
    expect(degraded.body.model).toBe("gpt-4o-mini");
    // Other aliases and a request under the threshold elsewhere are untouched.
    expect((await chat(gw.origin, KEYS.normal, "mini")).headers.get("x-tollgate-degraded")).toBeNull();
  });
});

describe("emergency brake", () => {
  const brake = (cooldown: number) =>
    `    - { scope: key, id: normal-${RUN}, emergency: { usd_per_minute: 0.004, cooldown_s: ${cooldown} } }`;

  it("blocks the key once it spends faster than usd_per_minute, until an admin resets it", async () => {
    const gw = await startGateway(routes(mock.url, brake(600)), env);
    gateways.push(gw);
    let a = await chat(gw.origin, KEYS.normal, "premium");
    for (let i = 0; i < 10 && a.status === 200; i++) a = await chat(gw.origin, KEYS.normal, "premium");
    expect(a.status).toBe(429);
    expect(a.body.error).toMatchObject({ type: "insufficient_quota", code: "budget_exceeded" });
    expect(a.body.error?.message).toContain(`Emergency spend brake engaged for key normal-${RUN}`);
    expect(a.headers.get("x-should-retry")).toBe("false");
    // Another key of the same team is not braked: the brake is on the key's scope.
    expect((await chat(gw.origin, KEYS.high, "premium")).status).toBe(200);

    const listed = (await (await admin(gw.origin, "/budgets/brakes")).json()) as { data: { scope: string }[] };
    expect(listed.data.map((b) => b.scope)).toEqual([`key normal-${RUN}`]);
    // A team key cannot lift it.
    const refused = await fetch(`${gw.origin}/admin/budgets/brakes/reset`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEYS.normal}`, "content-type": "application/json" },
      body: JSON.stringify({ scope: `key normal-${RUN}` }),
    });
    expect(refused.status).toBe(403);
    expect((await chat(gw.origin, KEYS.normal, "premium")).status).toBe(429);

    const reset = await admin(gw.origin, "/budgets/brakes/reset", { scope: `key normal-${RUN}` });
    expect(reset.status).toBe(200);
    expect((await chat(gw.origin, KEYS.normal, "mini", 5)).status).toBe(200);
    const after = (await (await admin(gw.origin, "/budgets/brakes")).json()) as { data: unknown[] };
    expect(after.data).toEqual([]);
  });

  it("lifts by itself when the cool-down passes", async () => {
    const gw = await startGateway(routes(mock.url, brake(1)), env);
    gateways.push(gw);
    let a = await chat(gw.origin, KEYS.normal, "premium");
    for (let i = 0; i < 10 && a.status === 200; i++) a = await chat(gw.origin, KEYS.normal, "premium");
    expect(a.status).toBe(429);
    expect(a.body.error?.message).toContain("Emergency spend brake");
    await new Promise((r) => setTimeout(r, 1_100));
    // Cheap enough that the minute's spend does not trip it again at once.
    expect((await chat(gw.origin, KEYS.normal, "mini", 5)).status).toBe(200);
  });
});

describe("priority tiers on a saturated deployment", () => {
  let slow: MeteredMock;
  beforeAll(async () => {
    slow = await startMeteredMock({ delayMs: 300 });
  });
  afterAll(() => slow.close());

  it("serves waiting requests high before normal before low, and sheds low first when the queue is full", async () => {
    const extra = `
  slow:
    deployments:
      - { provider: slowmock, model: gpt-4o-mini, max_concurrency: 1, max_queue: 2 }`;
    const yaml = routes(mock.url, `    - { scope: org, id: org-${RUN}, limit_usd: 100 }`, extra).replace(
      "models:",
      `  slowmock:\n    type: openai-compatible\n    base_url: ${slow.url}\nmodels:`,
    );
    const gw = await startGateway(yaml, env);
    gateways.push(gw);
    const finished: string[] = [];
    const send = (name: string, key: string) =>
      chat(gw.origin, key, "slow", 5).then((a) => {
        finished.push(name);
        return a;
      });
    const pause = () => new Promise((r) => setTimeout(r, 60));
    const first = send("first", KEYS.normal); // takes the only slot for 300 ms
    await pause();
    const low = send("low", KEYS.low);
    await pause();
    const normal = send("normal", KEYS.normal);
    await pause();
    const high = send("high", KEYS.high); // the queue (2) is full: the low waiter is shed to make room
    const answers = await Promise.all([first, low, normal, high]);
    const [a0, aLow, aNormal, aHigh] = answers as [Answer, Answer, Answer, Answer];
    expect(aLow.status).toBe(429);
    expect(aLow.body.error).toMatchObject({ type: "rate_limit_error", code: "overloaded_shed" });
    expect(aLow.headers.get("retry-after")).not.toBeNull();
    expect([a0.status, aNormal.status, aHigh.status]).toEqual([200, 200, 200]);
    // The high request arrived last but was served before the normal one that waited longer.
    expect(finished.filter((n) => n !== "low")).toEqual(["first", "high", "normal"]);
  });
});
