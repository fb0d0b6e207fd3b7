import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../../src/auth/key-format.js";
import { type GatewayProcess, spawnGateway } from "../helpers/gateway-process.js";
import { meteredModels } from "../helpers/metered-routes.js";
import { expectNoSecretsInLogs } from "../helpers/secrets-scan.js";
import { type MeteredMock, startMeteredMock } from "../mocks/metered-openai.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const RUN = randomBytes(4).toString("hex");
const KEY = generateKey();
const RPM = 30;

describe.sequential("rate limits across three gateway processes sharing Redis", () => {
  let mock: MeteredMock;
  let gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    mock = await startMeteredMock();
    // The limiter's keys carry the key id: an id unique to this run starts from a fresh window.
    const yaml = `
${meteredModels(mock.url)}
auth:
  orgs: [{ id: org-${RUN} }]
  teams: [{ id: team-${RUN}, org: org-${RUN} }]
  keys:
    - { id: k-rl-${RUN}, name: limited, team: team-${RUN}, key_env: TG_RL_KEY, rpm: ${RPM} }
`;
    gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(yaml, { TG_RL_KEY: KEY, REDIS_URL })));
  }, 30_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await mock.close();
    expectNoSecretsInLogs(
      gateways.flatMap((g) => g.lines),
      [KEY],
    );
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`*k-rl-${RUN}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it(`admits at most ${RPM} of 100 requests fired at once, and says why the rest are refused`, async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const res = await fetch(`${(gateways[i % 3] as GatewayProcess).origin}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "mini", max_tokens: 5, messages: [{ role: "user", content: `hi ${i}` }] }),
        });
        return { status: res.status, headers: res.headers, body: (await res.json()) as { error?: { code: string } } };
      }),
    );
    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    // No tolerance: the limiter counts in Redis atomically, so the three replicas share one count. (Only with
    // Redis unreachable would each replica's in-memory insurance limiter admit its own RPM.)
    expect(accepted.length).toBeLessThanOrEqual(RPM);
    expect(accepted.length).toBe(RPM); // and it does not refuse below the limit
    expect(mock.served()).toBe(accepted.length);
    for (const a of accepted) {
      expect(a.headers.get("x-ratelimit-limit-requests")).toBe(String(RPM));
      const remaining = Number(a.headers.get("x-ratelimit-remaining-requests"));
      expect(remaining).toBeGreaterThanOrEqual(0);
      expect(remaining).toBeLessThan(RPM);
      expect(a.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(\.\d+)?m?s$|^\d+m[\d.]+s$/);
    }
    // Every remaining count from 0 to RPM-1 was handed out exactly once, whichever replica answered.
    const remainders = accepted
      .map((a) => Number(a.headers.get("x-ratelimit-remaining-requests")))
      .sort((x, y) => x - y);
    expect(remainders).toEqual(Array.from({ length: RPM }, (_, i) => i));
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error?.code).toBe("rate_limit_exceeded");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(r.headers.get("x-ratelimit-limit-requests")).toBe(String(RPM));
      expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(r.headers.get("x-ratelimit-reset-requests")).toBeTruthy();
      expect(r.headers.get("x-should-retry")).not.toBe("false");
    }
  }, 30_000);
});
