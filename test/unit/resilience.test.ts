import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors.js";
import { transportError, upstreamHttpError } from "../../src/providers/http.js";
import { fullJitterDelay, retryDelay } from "../../src/resilience/backoff.js";
import { DeploymentBreakers } from "../../src/resilience/breakers.js";
import { DeploymentCooldowns } from "../../src/resilience/cooldowns.js";
import { classifyFailure, parseRetryAfter } from "../../src/resilience/failures.js";
import { DeploymentHealth } from "../../src/resilience/health.js";
import { HealthChecker } from "../../src/resilience/health-check.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function httpError(status: number, body: unknown, headers: Record<string, string> = {}): GatewayError {
  return upstreamHttpError("p", status, typeof body === "string" ? body : JSON.stringify(body), headers);
}

const serverError = () => httpError(500, { error: { message: "boom", type: "server_error" } });

describe("classifyFailure", () => {
  it("retries connect failures and timeouts from the transport", () => {
    expect(classifyFailure(transportError("p", Object.assign(new Error("x"), { code: "ECONNREFUSED" })))).toEqual({
      retryable: true,
      kind: "connect",
    });
    expect(classifyFailure(transportError("p", { code: "UND_ERR_HEADERS_TIMEOUT" }))).toEqual({
      retryable: true,
      kind: "timeout",
    });
    expect(classifyFailure(httpError(408, "slow"))).toMatchObject({ retryable: true, kind: "timeout" });
  });

  it("never retries a request the client abandoned", () => {
    expect(classifyFailure(transportError("p", { name: "AbortError" }))).toEqual({ retryable: false, kind: "aborted" });
    expect(classifyFailure(Object.assign(new Error("gone"), { name: "AbortError" }))).toMatchObject({
      kind: "aborted",
    });
  });

  it("retries 429 and reads retry-after in seconds", () => {
    const c = classifyFailure(httpError(429, { error: { message: "slow down" } }, { "retry-after": "2" }));
    expect(c).toEqual({ retryable: true, kind: "rate_limited", retryAfterMs: 2_000 });
  });

  it("reads retry-after as an HTTP date, and prefers retry-after-ms", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter({ "retry-after": "Wed, 01 Jan 2025 00:00:07 GMT" }, now)).toBe(7_000);
    expect(parseRetryAfter({ "retry-after": "Tue, 31 Dec 2024 00:00:00 GMT" }, now)).toBe(0);
    expect(parseRetryAfter({ "retry-after": "3", "retry-after-ms": "1500" }, now)).toBe(1_500);
    expect(parseRetryAfter({ "retry-after": "soon" }, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("calls Anthropic's 529 and 'Overloaded' 503 overloaded, and retries them", () => {
    expect(
      classifyFailure(httpError(529, { error: { type: "overloaded_error", message: "Overloaded" } })),
    ).toMatchObject({
      retryable: true,
      kind: "overloaded",
    });
    const remapped = new GatewayError("Upstream provider 'a' (anthropic): Overloaded", {
      status: 503,
      type: "api_error",
    });
    expect(classifyFailure(remapped)).toEqual({ retryable: true, kind: "overloaded" });
  });

  it("retries other 5xx as server errors", () => {
    expect(classifyFailure(serverError())).toEqual({ retryable: true, kind: "server" });
    expect(classifyFailure(httpError(503, "down", { "retry-after": "1" }))).toEqual({
      retryable: true,
      kind: "server",
      retryAfterMs: 1_000,
    });
  });

  it.each([400, 401, 403, 404, 422])("does not retry a %i client error", (status) => {
    expect(classifyFailure(httpError(status, { error: { message: "bad" } }))).toEqual({
      retryable: false,
      kind: "client",
    });
  });

  it.each([
    ["OpenAI's code", { error: { message: "Too long.", code: "context_length_exceeded" } }],
    ["OpenAI's message", { error: { message: "This model's maximum context length is 8192 tokens. However, ..." } }],
    [
      "Anthropic",
      { error: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" } },
    ],
    ["Bedrock", { message: "ValidationException: Input is too long for requested model." }],
    [
      "Gemini",
      { error: { message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)." } },
    ],
  ])("recognises a context-window refusal (%s)", (_name, body) => {
    expect(classifyFailure(httpError(400, body))).toEqual({ retryable: false, kind: "context_window" });
  });

  it("reads Bedrock's 'Too many tokens' 429 as a rate limit, not a context window", () => {
    const throttled = new GatewayError("ThrottlingException: Too many tokens, please wait before trying again.", {
      status: 429,
      type: "rate_limit_error",
      code: "ThrottlingException",
    });
    expect(classifyFailure(throttled)).toMatchObject({ retryable: true, kind: "rate_limited" });
  });

  it("recognises content-policy refusals by code", () => {
    for (const code of ["content_filter", "content_policy_violation"]) {
      expect(classifyFailure(httpError(400, { error: { message: "no", code } }))).toEqual({
        retryable: false,
        kind: "content_policy",
      });
    }
  });

  it("calls an unknown thrown value 'other' and does not retry it", () => {
    expect(classifyFailure(new TypeError("bug"))).toEqual({ retryable: false, kind: "other" });
    expect(classifyFailure("string")).toEqual({ retryable: false, kind: "other" });
  });
});

describe("backoff", () => {
  const options = { baseMs: 100, capMs: 1_000 };

  it("draws full jitter from [0, min(cap, base * 2^retry))", () => {
    expect(fullJitterDelay(0, options, () => 0)).toBe(0);
    expect(fullJitterDelay(0, options, () => 0.999)).toBe(99);
    expect(fullJitterDelay(2, options, () => 0.5)).toBe(200);
    expect(fullJitterDelay(10, options, () => 0.999)).toBe(999);
    expect(fullJitterDelay(5_000, options, () => 0.5)).toBe(500);
  });

  it("waits at least the retry-after", () => {
    const d = retryDelay(
      { retry: 0, startedAt: 0, now: 0, maxTotalMs: 10_000, retryAfterMs: 3_000 },
      options,
      () => 0.5,
    );
    expect(d).toBe(3_000);
  });

  it("gives up when the next retry would start past the request's deadline", () => {
    const base = { retry: 3, startedAt: 1_000, maxTotalMs: 5_000 };
    expect(retryDelay({ ...base, now: 2_000 }, options, () => 0.5)).toBe(400);
    expect(retryDelay({ ...base, now: 5_700 }, options, () => 0.5)).toBeUndefined();
    expect(retryDelay({ ...base, now: 2_000, retryAfterMs: 4_000 }, options, () => 0.5)).toBeUndefined();
  });
});

describe("DeploymentBreakers", () => {
  it("opens after N consecutive failures, and a success resets the run", async () => {
    const breakers = new DeploymentBreakers({ kind: "consecutive", failures: 3, halfOpenAfterMs: 60_000 });
    await breakers.recordFailure("d1", serverError());
    await breakers.recordFailure("d1", serverError());
    await breakers.recordSuccess("d1");
    await breakers.recordFailure("d1", serverError());
    await breakers.recordFailure("d1", serverError());
    expect(breakers.state("d1")).toBe("closed");
    await breakers.recordFailure("d1", serverError());
    expect(breakers.state("d1")).toBe("open");
    expect(breakers.canCall("d1")).toBe(false);
    expect(breakers.admit("d1")).toBe(false);
    expect(breakers.state("d2")).toBe("closed");
    breakers.close();
  });

  it("opens on the sampling threshold only with enough traffic", async () => {
    const rule = {
      kind: "sampling",
      threshold: 0.5,
      durationMs: 1_000,
      minimumRps: 5,
      halfOpenAfterMs: 60_000,
    } as const;
    const breakers = new DeploymentBreakers(rule);
    // 4 calls in a 1 s window is under 5 rps: even all failing does not trip it.
    for (let i = 0; i < 4; i++) await breakers.recordFailure("quiet", serverError());
    expect(breakers.state("quiet")).toBe("closed");
    // 40% failures with enough traffic stays closed; passing 50% opens.
    for (let i = 0; i < 6; i++) await breakers.recordSuccess("busy");
    for (let i = 0; i < 4; i++) await breakers.recordFailure("busy", serverError());
    expect(breakers.state("busy")).toBe("closed");
    for (let i = 0; i < 3; i++) await breakers.recordFailure("busy", serverError());
    expect(breakers.state("busy")).toBe("open");
    breakers.close();
  });

  it("half-opens after halfOpenAfter and lets exactly one probe through", async () => {
    const breakers = new DeploymentBreakers({ kind: "consecutive", failures: 1, halfOpenAfterMs: 60 });
    await breakers.recordFailure("d1", serverError());
    expect(breakers.canCall("d1")).toBe(false);
    await sleep(80);
    expect(breakers.canCall("d1")).toBe(true);
    expect(breakers.admit("d1")).toBe(true);
    expect(breakers.state("d1")).toBe("half-open");
    expect(breakers.canCall("d1")).toBe(false);
    expect(breakers.admit("d1")).toBe(false);
    breakers.close();
  });

  it("closes on a successful probe and re-opens on a failed one", async () => {
    const breakers = new DeploymentBreakers({ kind: "consecutive", failures: 1, halfOpenAfterMs: 50 });
    const seen: string[] = [];
    breakers.onStateChange((id, state) => seen.push(`${id}:${state}`));
    await breakers.recordFailure("d1", serverError());
    await sleep(70);
    expect(breakers.admit("d1")).toBe(true);
    await breakers.recordFailure("d1", serverError());
    expect(breakers.state("d1")).toBe("open");
    expect(breakers.canCall("d1")).toBe(false);
    await sleep(70);
    expect(breakers.admit("d1")).toBe(true);
    await breakers.recordSuccess("d1");
    expect(breakers.state("d1")).toBe("closed");
    expect(breakers.canCall("d1")).toBe(true);
    expect(seen).toEqual(["d1:open", "d1:half-open", "d1:open", "d1:half-open", "d1:closed"]);
    breakers.close();
  });

  it("re-opens when an admitted probe is released unsent", async () => {
    const breakers = new DeploymentBreakers({ kind: "consecutive", failures: 1, halfOpenAfterMs: 50 });
    await breakers.recordFailure("d1", serverError());
    await sleep(70);
    expect(breakers.admit("d1")).toBe(true);
    await breakers.release("d1");
    expect(breakers.state("d1")).toBe("open");
    expect(breakers.canCall("d1")).toBe(false);
    breakers.close();
  });

  it("counts a probe never reported as failed after the probe timeout", async () => {
    const breakers = new DeploymentBreakers({ kind: "consecutive", failures: 1, halfOpenAfterMs: 30 }, 40);
    await breakers.recordFailure("d1", serverError());
    await sleep(50);
    expect(breakers.admit("d1")).toBe(true);
    await sleep(60);
    expect(breakers.state("d1")).toBe("open");
    breakers.close();
  });
});

describe("DeploymentCooldowns", () => {
  const ejection = {
    consecutiveFailures: 3,
    baseEjectionTimeMs: 1_000,
    maxEjectionTimeMs: 10_000,
    multiplierDecayMs: 60_000,
    maxEjectionPercent: 50,
    latencyFactor: 3,
    latencyMinSamples: 3,
    latencyAlpha: 0.5,
  };

  it("benches a rate-limited deployment for its retry-after, else the default, capped", () => {
    const c = new DeploymentCooldowns({ defaultCooldownMs: 5_000, maxCooldownMs: 60_000 });
    expect(c.rateLimited("a", 1_000, 2_000)).toBe(3_000);
    expect(c.isAvailable("a", 2_999)).toBe(false);
    expect(c.isAvailable("a", 3_000)).toBe(true);
    expect(c.rateLimited("b", 0)).toBe(5_000);
    expect(c.rateLimited("c", 0, 3_600_000)).toBe(60_000);
    expect(c.isAvailable("never-seen", 0)).toBe(true);
  });

  it("ejects after N consecutive failures, for longer each time", () => {
    const c = new DeploymentCooldowns({}, ejection);
    c.setGroups({ chat: ["a", "b"] });
    c.recordFailure("a", 0);
    c.recordFailure("a", 0);
    c.recordSuccess("a", 0);
    c.recordFailure("a", 0);
    c.recordFailure("a", 0);
    expect(c.isAvailable("a", 0)).toBe(true);
    expect(c.recordFailure("a", 0)).toBe(true);
    expect(c.ejectedUntil("a")).toBe(1_000);
    expect(c.isAvailable("a", 999)).toBe(false);
    expect(c.isAvailable("a", 1_000)).toBe(true);
    for (let i = 0; i < 3; i++) c.recordFailure("a", 1_500);
    expect(c.ejectedUntil("a")).toBe(3_500);
    for (let i = 0; i < 3; i++) c.recordFailure("a", 4_000);
    expect(c.ejectedUntil("a")).toBe(7_000);
  });

  it("lets the ejection multiplier decay while the deployment is back in service", () => {
    const c = new DeploymentCooldowns({}, { ...ejection, multiplierDecayMs: 10_000 });
    c.setGroups({ chat: ["a", "b"] });
    for (let i = 0; i < 3; i++) c.recordFailure("a", 0);
    for (let i = 0; i < 3; i++) c.recordFailure("a", 2_000);
    expect(c.ejectedUntil("a")).toBe(4_000);
    // 25 s in service: two decay steps bring the multiplier from 2 to 0, so the next ejection is 1 × base.
    for (let i = 0; i < 3; i++) c.recordFailure("a", 29_000);
    expect(c.ejectedUntil("a")).toBe(30_000);
  });

  it("never ejects more than maxEjectionPercent of an alias", () => {
    const c = new DeploymentCooldowns({}, ejection);
    c.setGroups({ chat: ["a", "b", "c", "d"] });
    for (const id of ["a", "b", "c"]) for (let i = 0; i < 3; i++) c.recordFailure(id, 0);
    expect([c.isAvailable("a", 10), c.isAvailable("b", 10), c.isAvailable("c", 10)]).toEqual([false, false, true]);
    // Once one returns, the third may go.
    c.recordFailure("c", 1_000);
    expect(c.isAvailable("c", 1_000)).toBe(false);
  });

  it("never ejects the only deployment of an alias", () => {
    const c = new DeploymentCooldowns({}, ejection);
    c.setGroups({ solo: ["a"] });
    for (let i = 0; i < 10; i++) c.recordFailure("a", 0);
    expect(c.isAvailable("a", 0)).toBe(true);
  });

  it("ejects a deployment whose latency is far above its peers' median, not a merely slower one", () => {
    const c = new DeploymentCooldowns({}, ejection);
    c.setGroups({ chat: ["fast1", "fast2", "slowish", "slow"] });
    for (let i = 0; i < 3; i++) {
      c.recordSuccess("fast1", 0, 100);
      c.recordSuccess("fast2", 0, 120);
      c.recordSuccess("slowish", 0, 250);
    }
    expect(c.isAvailable("slowish", 0)).toBe(true);
    c.recordSuccess("slow", 0, 2_000);
    c.recordSuccess("slow", 0, 2_000);
    expect(c.isAvailable("slow", 0)).toBe(true);
    c.recordSuccess("slow", 0, 2_000);
    expect(c.isAvailable("slow", 0)).toBe(false);
    expect(c.ejectionReason("slow")).toBe("latency");
  });
});

describe("DeploymentHealth", () => {
  const options = {
    breaker: { kind: "consecutive", failures: 2, halfOpenAfterMs: 50 },
    ejection: { consecutiveFailures: 100 },
  } as const;

  it("cools a deployment down after a 429 for its retry-after", async () => {
    let now = 1_000;
    const health = new DeploymentHealth({ ...options, now: () => now });
    await health.onFailure("d1", httpError(429, { error: { message: "slow" } }, { "retry-after": "3" }), 5);
    expect(health.isEligible("d1")).toBe(false);
    expect(health.reason("d1")).toBe("cooling down after a rate limit");
    expect(health.snapshot()).toMatchObject({ d1: { cooldownUntil: 4_000, breaker: "closed" } });
    now = 4_000;
    expect(health.isEligible("d1")).toBe(true);
    expect(health.reason("d1")).toBeUndefined();
    await health.close();
  });

  it("opens the breaker on server failures but not on client errors", async () => {
    const health = new DeploymentHealth(options);
    for (let i = 0; i < 5; i++) await health.onFailure("d1", httpError(400, { error: { message: "bad" } }));
    await health.onFailure("d1", transportError("p", { name: "AbortError" }));
    expect(health.isEligible("d1")).toBe(true);
    await health.onFailure("d1", serverError());
    await health.onFailure("d1", transportError("p", { code: "ECONNREFUSED" }));
    expect(health.isEligible("d1")).toBe(false);
    expect(health.reason("d1")).toBe("breaker open");
    expect(health.snapshot().d1).toMatchObject({ breaker: "open", consecutiveFailures: 2 });
    await health.close();
  });

  it("counts a rejected key or unknown model against the deployment, as the gateway chose both", async () => {
    const health = new DeploymentHealth(options);
    await health.onFailure("d1", httpError(401, { error: { message: "Incorrect API key" } }));
    await health.onFailure("d1", httpError(404, { error: { message: "model not found" } }));
    expect(health.reason("d1")).toBe("breaker open");
    await health.close();
  });

  it("admits one half-open probe and closes on its success", async () => {
    const health = new DeploymentHealth(options);
    await health.onFailure("d1", serverError());
    await health.onFailure("d1", serverError());
    await sleep(70);
    expect(health.isEligible("d1")).toBe(true);
    expect(health.admit("d1")).toBe(true);
    expect(health.admit("d1")).toBe(false);
    expect(health.reason("d1")).toBe("breaker half-open, probe in flight");
    await health.onSuccess("d1", 120);
    expect(health.isEligible("d1")).toBe(true);
    expect(health.snapshot().d1?.breaker).toBe("closed");
    await health.close();
  });
});

describe("HealthChecker", () => {
  it("flips to failing after unhealthyThreshold failures in a row, and back after healthyThreshold passes", async () => {
    const health = new DeploymentHealth();
    let up = false;
    const checker = new HealthChecker({
      deployments: ["d1"],
      probe: async () => {
        if (!up) throw new Error("down");
      },
      target: health,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    expect(await checker.checkNow("d1")).toBe(true);
    expect(await checker.checkNow("d1")).toBe(true);
    expect(health.isEligible("d1")).toBe(true);
    expect(await checker.checkNow("d1")).toBe(false);
    expect(health.isEligible("d1")).toBe(false);
    expect(health.reason("d1")).toBe("failing active health checks");
    up = true;
    expect(await checker.checkNow("d1")).toBe(false);
    expect(await checker.checkNow("d1")).toBe(true);
    expect(health.isEligible("d1")).toBe(true);
    await health.close();
  });

  it("fails a probe that outlives its timeout", async () => {
    const health = new DeploymentHealth();
    const checker = new HealthChecker({
      deployments: ["d1"],
      probe: () => new Promise(() => {}),
      target: health,
      timeoutMs: 20,
      unhealthyThreshold: 1,
    });
    expect(await checker.checkNow("d1")).toBe(false);
    await health.close();
  });

  it("probes on its own every interval once started, and stops when told", async () => {
    const health = new DeploymentHealth();
    let calls = 0;
    const checker = new HealthChecker({
      deployments: ["d1", "d2"],
      probe: async (id) => {
        calls++;
        if (id === "d2") throw new Error("down");
      },
      target: health,
      intervalMs: 10,
      unhealthyThreshold: 2,
    });
    checker.start();
    const end = Date.now() + 2_000;
    while (health.isEligible("d2") && Date.now() < end) await sleep(5);
    checker.stop();
    expect(health.isEligible("d2")).toBe(false);
    expect(health.isEligible("d1")).toBe(true);
    const after = calls;
    await sleep(40);
    expect(calls).toBe(after);
    await health.close();
  });
});
