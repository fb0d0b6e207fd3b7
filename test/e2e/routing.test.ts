import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRecords } from "../../src/usage/index.js";
import { eventually, startGateway, type TestGateway } from "../helpers/gateway.js";
import { closedPort } from "../helpers/routes.js";
import { type FaultyMock, startFaultyMock } from "../mocks/faulty-openai.js";

// Routing and resilience through the HTTP API, against fake OpenAI upstreams over real HTTP whose latency and
// faults each test sets. Provider names carry a per-run suffix: with Redis, breaker states are shared by name.

const RUN = randomBytes(3).toString("hex");
const REDIS_URL = "redis://127.0.0.1:6379";
const gateways: TestGateway[] = [];
const mocks: FaultyMock[] = [];

async function mock(name: string, latencyMs = 0): Promise<FaultyMock> {
  const m = await startFaultyMock(name, { latencyMs });
  mocks.push(m);
  return m;
}

async function gateway(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  const gw = await startGateway(yaml, env);
  gateways.push(gw);
  return gw;
}

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(mocks.map((m) => m.close()));
});

const provider = (name: string, url: string) => `  ${name}-${RUN}: { type: openai-compatible, base_url: "${url}" }`;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

async function chat(
  gw: TestGateway,
  model: string,
  opts: { stream?: boolean; headers?: Record<string, string>; content?: string; maxTokens?: number } = {},
): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${gw.origin}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...opts.headers },
    body: JSON.stringify({
      model,
      stream: opts.stream === true,
      ...(opts.maxTokens ? { max_tokens: opts.maxTokens } : {}),
      messages: [{ role: "user", content: opts.content ?? "hi" }],
    }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: performance.now() - started };
}

/** `count` calls, `concurrency` at a time. */
async function fire<T>(count: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) out[i] = await one(i);
    }),
  );
  return out;
}

const servedBy = (a: Answer) => /from ([\w-]+)/.exec(a.text)?.[1] ?? /"content":" ([\w-]+)"/.exec(a.text)?.[1] ?? "?";
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99) - 1] as number;

describe("one of three deployments refuses connections", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const [a, b] = [await mock("a"), await mock("b")];
    const down = await closedPort();
    gw = await gateway(`
providers:
${provider("a", a.url)}
${provider("b", b.url)}
${provider("down", `http://127.0.0.1:${down}/v1`)}
models:
  chat:
    deployments:
      - { provider: a-${RUN}, model: gpt-4o-mini }
      - { provider: b-${RUN}, model: gpt-4o-mini }
      - { provider: down-${RUN}, model: gpt-4o-mini }
`);
  });

  it("answers all of 1,000 JSON requests, retrying on the next deployment", async () => {
    const answers = await fire(1000, 25, () => chat(gw, "chat"));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    // The refusals were retried elsewhere, and the attempts header says so.
    const retried = answers.filter((a) => a.headers.get("x-tollgate-attempts"));
    expect(retried.length).toBeGreaterThan(0);
    expect(retried[0]?.headers.get("x-tollgate-attempts")).toMatch(new RegExp(`^2; down-${RUN}/gpt-4o-mini 502, `));
  }, 60_000);

  it("answers all of 1,000 streamed requests completely", async () => {
    const answers = await fire(1000, 25, () => chat(gw, "chat", { stream: true }));
    expect(answers.filter((a) => a.status !== 200 || !a.text.trimEnd().endsWith("data: [DONE]"))).toEqual([]);
  }, 60_000);

  it("has opened the breaker of the refusing deployment (GET /api/models/performance)", async () => {
    const res = await fetch(`${gw.origin}/api/models/performance`);
    const rows = ((await res.json()) as { data: Record<string, unknown>[] }).data;
    const down = rows.find((r) => r.deployment === `down-${RUN}/gpt-4o-mini`);
    expect(down).toMatchObject({ breaker: "open", eligible: false });
    const a = rows.find((r) => r.deployment === `a-${RUN}/gpt-4o-mini`);
    expect(a).toMatchObject({ breaker: "closed", eligible: true });
    expect(a?.p50Ms).toBeGreaterThan(0);
    expect(a?.selections).toBeGreaterThan(0);
  });
});

describe("one of three deployments at 10x latency (the Linkerd experiment)", () => {
  it("keeps the p99 within 1.5x of the healthy deployments' under latency, and not under weighted", async () => {
    const [a, b, slow] = [await mock("fast1", 20), await mock("fast2", 20), await mock("slow", 200)];
    const deployments = `
      - { provider: fast1-${RUN}, model: gpt-4o-mini }
      - { provider: fast2-${RUN}, model: gpt-4o-mini }`;
    const gw = await gateway(`
providers:
${provider("fast1", a.url)}
${provider("fast2", b.url)}
${provider("slow", slow.url)}
models:
  healthy:
    deployments:${deployments}
  latency:
    strategy: latency
    deployments:${deployments}
      - { provider: slow-${RUN}, model: gpt-4o-mini }
  weighted:
    deployments:${deployments}
      - { provider: slow-${RUN}, model: gpt-4o-mini }
# Latency-based outlier ejection would take the slow one out of weighted routing too; this compares strategies.
resilience:
  outlier: { latency_factor: 1000 }
`);
    const measure = async (model: string, n = 300) => {
      await fire(30, 3, () => chat(gw, model)); // warm-up: every deployment measured once at least
      return (await fire(n, 3, () => chat(gw, model))).map((x) => x.ms);
    };
    const healthy = p99(await measure("healthy"));
    const latency = p99(await measure("latency"));
    const weighted = p99(await measure("weighted", 150));
    expect(latency).toBeLessThanOrEqual(1.5 * healthy);
    expect(weighted).toBeGreaterThan(1.5 * healthy);
  }, 60_000);
});

describe("a 429 with Retry-After", () => {
  it("cools that deployment down for as long: no request is sent to it meanwhile", async () => {
    const limited = await mock("limited");
    const ok = await mock("ok");
    const gw = await gateway(`
providers:
${provider("limited", limited.url)}
${provider("ok", ok.url)}
models:
  chat:
    deployments:
      - { provider: limited-${RUN}, model: gpt-4o-mini }
      - { provider: ok-${RUN}, model: gpt-4o-mini }
`);
    limited.behaviour.failStatus = 429;
    limited.behaviour.retryAfterS = 2;
    let first: Answer | undefined;
    for (let i = 0; i < 50 && limited.requests === 0; i++) first = await chat(gw, "chat");
    expect(limited.requests).toBe(1);
    const cooledAt = Date.now();
    // The client never saw the 429: it was retried on the other deployment.
    expect(first?.status).toBe(200);
    expect(first?.headers.get("x-tollgate-attempts")).toContain(`limited-${RUN}/gpt-4o-mini 429`);
    limited.behaviour.failStatus = undefined;
    while (Date.now() - cooledAt < 1_700) expect((await chat(gw, "chat")).status).toBe(200);
    expect(limited.requests).toBe(1);
    await new Promise((r) => setTimeout(r, Math.max(0, 2_100 - (Date.now() - cooledAt))));
    for (let i = 0; i < 40 && limited.requests === 1; i++) await chat(gw, "chat");
    expect(limited.requests).toBeGreaterThan(1);
  }, 30_000);
});

describe("circuit breaker shared by two replicas through Redis", () => {
  it("opens after 3 failures on one replica, keeps the other away within a second, half-opens and closes", async () => {
    const flaky = await mock("flaky");
    const steady = await mock("steady");
    const yaml = `
providers:
${provider("flaky", flaky.url)}
${provider("steady", steady.url)}
models:
  chat:
    deployments:
      - { provider: flaky-${RUN}, model: gpt-4o-mini }
      - { provider: steady-${RUN}, model: gpt-4o-mini }
resilience:
  breaker: { kind: consecutive, failures: 3, half_open_after_s: 1 }
  outlier: { consecutive_failures: 100 }
`;
    const [a, b] = [await gateway(yaml, { REDIS_URL }), await gateway(yaml, { REDIS_URL })];
    flaky.behaviour.failStatus = 500;
    for (let i = 0; i < 100 && flaky.requests < 3; i++) expect((await chat(a, "chat")).status).toBe(200);
    expect(flaky.requests).toBe(3);
    const opened = Date.now();
    // Replica B never got a failure from it, yet within a second it stops sending there too.
    await eventually(async () => {
      const rows = (
        (await (await fetch(`${b.origin}/api/models/performance`)).json()) as {
          data: { deployment: string; eligible: boolean }[];
        }
      ).data;
      expect(rows.find((r) => r.deployment === `flaky-${RUN}/gpt-4o-mini`)?.eligible).toBe(false);
    }, 1_000);
    expect(Date.now() - opened).toBeLessThan(1_000);
    for (let i = 0; i < 30; i++) expect((await chat(b, "chat")).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await chat(a, "chat")).status).toBe(200);
    expect(flaky.requests).toBe(3);

    // Healthy again: after half_open_after one probe passes, its success closes the breaker on both.
    flaky.behaviour.failStatus = undefined;
    await new Promise((r) => setTimeout(r, 1_100));
    for (let i = 0; i < 60 && flaky.requests === 3; i++) await chat(a, "chat");
    expect(flaky.requests).toBe(4);
    const before = flaky.requests;
    await eventually(async () => {
      await chat(b, "chat");
      expect(flaky.requests).toBeGreaterThan(before);
    }, 3_000);
  }, 30_000);
});

describe("a stream that fails after its first byte", () => {
  it("is not retried: the client gets a final error event and the usage record says what happened", async () => {
    const cut = await mock("cut");
    const spare = await mock("spare");
    cut.behaviour.cutAfterChunks = 2;
    const gw = await gateway(`
providers:
${provider("cut", cut.url)}
${provider("spare", spare.url)}
models:
  chat:
    fallbacks: { general: [spare] }
    deployments:
      - { provider: cut-${RUN}, model: gpt-4o-mini }
  spare:
    deployments:
      - { provider: spare-${RUN}, model: gpt-4o-mini }
`);
    const client = new OpenAI({ apiKey: "unused", baseURL: gw.baseURL, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "chat",
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    const contents: string[] = [];
    const failure = await (async () => {
      try {
        for await (const chunk of stream) contents.push(chunk.choices[0]?.delta.content ?? "");
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(contents.join("")).toBe("from cut");
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(cut.requests).toBe(1);
    expect(spare.requests).toBe(0);
    await gw.gateway.services.ledger.flush();
    await eventually(async () => {
      await gw.gateway.services.ledger.flush();
      const records = await listRecords(gw.gateway.services.store, {}, 10);
      expect(records[0]).toMatchObject({ outcome: "upstream_cut", deployment: `cut-${RUN}/gpt-4o-mini`, stream: true });
    });
  });
});

describe("cost, context window, geo and rules", () => {
  let gw: TestGateway;
  let premium: FaultyMock;
  let cheap: FaultyMock;
  let eu: FaultyMock;
  let us: FaultyMock;
  beforeAll(async () => {
    [premium, cheap, eu, us] = [await mock("premium"), await mock("cheap"), await mock("eu"), await mock("us")];
    gw = await gateway(`
providers:
${provider("premium", premium.url)}
${provider("cheap", cheap.url)}
${provider("eu", eu.url)}
${provider("us", us.url)}
models:
  priced:
    strategy: cost-first
    deployments:
      - { provider: premium-${RUN}, model: gpt-4o }
      - { provider: cheap-${RUN}, model: gpt-4o-mini }
  roomy:
    deployments:
      - { provider: premium-${RUN}, model: gpt-4o, context_window: 200 }
      - { provider: cheap-${RUN}, model: gpt-4o-mini, context_window: 100000 }
  small:
    fallbacks: { context_window: [large] }
    deployments:
      - { provider: premium-${RUN}, model: gpt-4o, context_window: 200 }
  large:
    deployments:
      - { provider: cheap-${RUN}, model: gpt-4o-mini }
  resident:
    strategy: geo
    geo: { policy: strict }
    deployments:
      - { provider: eu-${RUN}, model: gpt-4o-mini, region: eu-west }
      - { provider: us-${RUN}, model: gpt-4o-mini, region: us-east }
  premium:
    deployments:
      - { provider: premium-${RUN}, model: gpt-4o }
resilience:
  retry: { max_attempts: 2 }
rules:
  - name: no-batch
    when: { headers: { x-job: batch } }
    then: { deny: { status: 403, message: "batch jobs go through the batch API" } }
  - name: premium-to-cheap
    when: { alias: premium }
    then: { route_to: large }
  - name: never-reached
    when: { alias: premium }
    then: { deny: {} }
`);
  });

  it("cost-first sends every request to the cheapest deployment, and says why", async () => {
    const answers = await fire(20, 4, () => chat(gw, "priced"));
    expect(answers.map(servedBy)).toEqual(Array(20).fill("cheap"));
    expect(answers[0]?.headers.get("x-tollgate-route")).toMatch(
      new RegExp(`^alias=priced; deployment=cheap-${RUN}/gpt-4o-mini; strategy=cost; reason=cheapest \\$`),
    );
  });

  it("moves a prompt too long for a deployment's context window to one it fits", async () => {
    const long = "word ".repeat(400);
    const answers = await fire(12, 4, () => chat(gw, "roomy", { content: long }));
    expect(answers.map(servedBy)).toEqual(Array(12).fill("cheap"));
    // Short prompts fit both.
    const short = await fire(40, 4, () => chat(gw, "roomy"));
    expect(new Set(short.map(servedBy))).toEqual(new Set(["cheap", "premium"]));
    // An alias whose only deployment is too small hands the request to its context_window fallback.
    const moved = await chat(gw, "small", { content: long });
    expect(moved.status).toBe(200);
    expect(servedBy(moved)).toBe("cheap");
    expect(moved.headers.get("x-tollgate-fallback")).toBe("small -> large (context_window)");
  });

  it("strict geo never leaves the caller's region, and fails clearly when the region is down", async () => {
    const inEu = { "x-tollgate-region": "eu-west" };
    const answers = await fire(20, 4, () => chat(gw, "resident", { headers: inEu }));
    expect(answers.map(servedBy)).toEqual(Array(20).fill("eu"));
    const usBefore = us.requests;
    eu.behaviour.failStatus = 503;
    const failed = await fire(10, 2, () => chat(gw, "resident", { headers: inEu }));
    for (const a of failed) {
      expect(a.status).toBe(503);
      expect(JSON.parse(a.text).error.message).toMatch(/\beu\b|eu-west/);
    }
    expect(us.requests).toBe(usBefore);
    eu.behaviour.failStatus = undefined;
  });

  it("applies the first matching rule, in order, and explains it without calling upstream", async () => {
    const denied = await chat(gw, "premium", { headers: { "x-job": "batch" } });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text).error).toMatchObject({
      code: "denied_by_rule",
      message: "batch jobs go through the batch API",
    });
    const routed = await chat(gw, "premium");
    expect(routed.status).toBe(200);
    expect(servedBy(routed)).toBe("cheap");
    expect(routed.headers.get("x-tollgate-route")).toContain("reason=rule premium-to-cheap");

    const calls = premium.requests + cheap.requests;
    const res = await fetch(`${gw.origin}/api/routes/explain`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "premium", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    const explained = (await res.json()) as Record<string, unknown>;
    expect(explained).toMatchObject({
      requested_model: "premium",
      alias: "large",
      rule: "premium-to-cheap",
      deployments: [`cheap-${RUN}/gpt-4o-mini`],
    });
    expect(explained.rules_checked).toEqual([
      { name: "no-batch", matched: false, failed: expect.any(String) },
      { name: "premium-to-cheap", matched: true },
    ]);
    expect(premium.requests + cheap.requests).toBe(calls);
  });

  it("recomputes the adaptive weights on POST /api/models/rebalance", async () => {
    const res = await fetch(`${gw.origin}/api/models/rebalance`, { method: "POST" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; aliases: Record<string, unknown[]> };
    expect(body.object).toBe("rebalance");
    expect(Object.keys(body.aliases)).toContain("priced");
  });
});

describe("active health checks", () => {
  it("take a deployment whose models listing fails out of rotation before any request fails there", async () => {
    const sick = await mock("sick");
    const well = await mock("well");
    const gw = await gateway(`
providers:
${provider("sick", sick.url)}
${provider("well", well.url)}
models:
  chat:
    deployments:
      - { provider: sick-${RUN}, model: gpt-4o-mini }
      - { provider: well-${RUN}, model: gpt-4o-mini }
resilience:
  health_checks: { enabled: true, interval_s: 0.1, unhealthy_threshold: 2, healthy_threshold: 1 }
`);
    sick.behaviour.failStatus = 500;
    await eventually(async () => {
      const rows = (
        (await (await fetch(`${gw.origin}/api/models/performance`)).json()) as {
          data: { deployment: string; eligible: boolean }[];
        }
      ).data;
      expect(rows.find((r) => r.deployment === `sick-${RUN}/gpt-4o-mini`)?.eligible).toBe(false);
    }, 3_000);
    const probes = sick.requests;
    const answers = await fire(30, 3, () => chat(gw, "chat"));
    expect(answers.map(servedBy)).toEqual(Array(30).fill("well"));
    expect(answers.every((a) => a.headers.get("x-tollgate-attempts") === null)).toBe(true);
    // Only probes reached it meanwhile, and once they pass it serves again.
    expect(sick.requests - probes).toBeLessThanOrEqual(2);
    sick.behaviour.failStatus = undefined;
    await eventually(async () => {
      const a = await chat(gw, "chat");
      expect(servedBy(a)).toBe("sick");
    }, 3_000);
  });
});

describe("per-alias attempt timeout and a key's own routing settings", () => {
  it("abandons an attempt that has not begun answering within timeouts.attempt_ms and tries the next deployment", async () => {
    const stuck = await mock("stuck", 3_000);
    const quick = await mock("quick");
    const gw = await gateway(`
providers:
${provider("stuck", stuck.url)}
${provider("quick", quick.url)}
models:
  chat:
    strategy: cost
    timeouts: { attempt_ms: 200 }
    deployments:
      - { provider: stuck-${RUN}, model: gpt-4o-mini }
      - { provider: quick-${RUN}, model: gpt-4o }
`);
    // cost puts the cheaper, stuck deployment first.
    const a = await chat(gw, "chat");
    expect(a.status).toBe(200);
    expect(servedBy(a)).toBe("quick");
    expect(a.ms).toBeLessThan(1_500);
    expect(a.headers.get("x-tollgate-attempts")).toBe(`2; stuck-${RUN}/gpt-4o-mini 504, quick-${RUN}/gpt-4o ok`);
  });

  it("takes a key's strategy and cost cap from its tags (strategy, max_cost_usd)", async () => {
    const premium = await mock("tag-premium");
    const budget = await mock("tag-budget");
    const gw = await gateway(
      `
providers:
${provider("tp", premium.url)}
${provider("tb", budget.url)}
models:
  chat:
    deployments:
      - { provider: tp-${RUN}, model: gpt-4o }
      - { provider: tb-${RUN}, model: gpt-4o-mini }
auth:
  orgs: [{ id: o-${RUN} }]
  teams: [{ id: t-${RUN}, org: o-${RUN} }]
  keys:
    - { id: k-${RUN}, name: frugal, team: t-${RUN}, key_env: TAG_KEY, tags: { strategy: cost-first } }
`,
      { TAG_KEY: `tg-${"x".repeat(43)}` },
    );
    const answers = await fire(10, 2, () =>
      chat(gw, "chat", { headers: { authorization: `Bearer tg-${"x".repeat(43)}` } }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.map(servedBy)).toEqual(Array(10).fill("tag-budget"));
    expect(answers[0]?.headers.get("x-tollgate-route")).toContain("strategy=cost");
  });
});

describe("fallback aliases, each for its own failure class", () => {
  it("moves to the general fallback when every deployment fails, and records what was tried", async () => {
    const broken = await mock("broken");
    const refusing = await mock("refusing");
    const backup = await mock("backup");
    const lenient = await mock("lenient");
    const gw = await gateway(`
providers:
${provider("broken", broken.url)}
${provider("refusing", refusing.url)}
${provider("backup", backup.url)}
${provider("lenient", lenient.url)}
models:
  chat:
    fallbacks: { general: [backup], content_policy: [lenient] }
    deployments:
      - { provider: broken-${RUN}, model: gpt-4o-mini }
  strict:
    fallbacks: { general: [backup], content_policy: [lenient] }
    deployments:
      - { provider: refusing-${RUN}, model: gpt-4o-mini }
  backup:
    deployments:
      - { provider: backup-${RUN}, model: gpt-4o-mini }
  lenient:
    deployments:
      - { provider: lenient-${RUN}, model: gpt-4o-mini }
resilience:
  retry: { base_ms: 1 }
`);
    broken.behaviour.failStatus = 500;
    const a = await chat(gw, "chat", { headers: { "x-request-id": `fb-${RUN}` } });
    expect(a.status).toBe(200);
    expect(servedBy(a)).toBe("backup");
    expect(a.headers.get("x-tollgate-fallback")).toBe("chat -> backup (general)");
    expect(a.headers.get("x-tollgate-attempts")).toBe(`2; broken-${RUN}/gpt-4o-mini 500, backup-${RUN}/gpt-4o-mini ok`);
    expect(lenient.requests).toBe(0);

    // A content refusal goes to the content_policy fallback, not the general one.
    refusing.behaviour.failStatus = 400;
    refusing.behaviour.failCode = "content_policy_violation";
    const backupBefore = backup.requests;
    const b = await chat(gw, "strict");
    expect(b.status).toBe(200);
    expect(servedBy(b)).toBe("lenient");
    expect(b.headers.get("x-tollgate-fallback")).toBe("strict -> lenient (content_policy)");
    expect(backup.requests).toBe(backupBefore);

    // The usage record and the log line say what was tried.
    await eventually(async () => {
      await gw.gateway.services.ledger.flush();
      const records = await listRecords(gw.gateway.services.store, {}, 10);
      const record = records.find((r) => r.requestId === `fb-${RUN}`);
      expect(record).toMatchObject({
        attempts: `2: broken-${RUN}/gpt-4o-mini 500, backup-${RUN}/gpt-4o-mini ok`,
        deployment: `backup-${RUN}/gpt-4o-mini`,
      });
      expect(record?.routeDecision).toContain("fell back to backup (general)");
    });
    const line = gw.logs.find((l) => l.request_id === `fb-${RUN}` && l.msg === "request");
    expect(line?.attempts).toBe(`broken-${RUN}/gpt-4o-mini 500, backup-${RUN}/gpt-4o-mini ok`);

    // And the routing metrics count it.
    const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
    for (const name of [
      "tollgate_model_selection_total",
      "tollgate_upstream_latency_seconds",
      "tollgate_circuit_state",
      "tollgate_retries_total",
      "tollgate_fallbacks_total",
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/tollgate_fallbacks_total\{from="chat",to="backup",kind="general"\} 1/);
    expect(metrics).toMatch(/tollgate_fallbacks_total\{from="strict",to="lenient",kind="content_policy"\} 1/);
  });
});
