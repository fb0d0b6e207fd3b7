// Where the auth, rate limit and budget stages' added latency comes from: five gateways, each with one more
// stage than the last (open; auth; auth + rate limits; auth + budgets; all), measured interleaved at one
// connection. \`npm run bench:stages:breakdown\` (embedded); with AB_REDIS=1 the limits and budgets use Redis.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { BODY, percentile, sequential, type Target } from "./lib/measure.js";
import { freePort, killAll, readPort, spawnNode, waitReady } from "./lib/procs.js";

const key = `tg-${randomBytes(24).toString("base64url")}`;
const team = `ab-${randomBytes(4).toString("hex")}`;
const head = `server: { host: 127.0.0.1, port: 0, log_level: info }
pricing: { sources: [] }
providers:
  upstream: { type: openai-compatible, base_url: "http://127.0.0.1:\${BENCH_UPSTREAM_PORT}/v1", api_key: bench-key }
models:
  bench-chat:
    deployments: [{ provider: upstream, model: gpt-4o-mini }]
`;
const auth = (limits: boolean) => `auth:
  orgs: [{ id: bench-org }]
  teams: [{ id: "${team}", org: bench-org }]
  keys:
    - { id: "${team}-key", name: bench, team: "${team}", key_env: BENCH_KEY${limits ? ", rpm: 100000000, tpm: 1000000000" : ""} }
`;
const budgets = `budgets:
  definitions:
    - { scope: team, id: "${team}", period: daily, limit_usd: 1000000, level: hard }
    - { scope: key, id: "${team}-key", period: daily, limit_usd: 1000000, level: hard }
`;
const alias = `rate_limits:
  aliases:
    bench-chat: { rpm: 100000000, tpm: 1000000000 }
`;
const variants: Record<string, string> = {
  plain: head,
  auth: head + auth(false),
  "auth+rl": head + auth(true) + alias,
  "auth+budget": head + auth(false) + budgets,
  full: head + auth(true) + budgets + alias,
};
const mock = spawnNode("mock", ["--import", "tsx", "test/mocks/serve-openai.ts", "0", "20"], { readStdout: true });
const mockPort = await readPort(mock);
const targets: Target[] = [];
for (const [name, yaml] of Object.entries(variants)) {
  const file = `/tmp/ab-${name}.yaml`;
  writeFileSync(file, yaml);
  const port = await freePort();
  const proc = spawnNode(name, ["dist/main.js", "--config", file, "--port", String(port)], {
    env: {
      BENCH_UPSTREAM_PORT: String(mockPort),
      BENCH_KEY: key,
      TOLLGATE_DATA_DIR: `/tmp/ab-data-${team}-${name}`,
      ...(process.env.AB_REDIS ? { REDIS_URL: "redis://127.0.0.1:6379" } : {}),
    },
    readStdout: false,
  });
  const t = { name, origin: `http://127.0.0.1:${port}`, proxy: proc };
  await waitReady(proc, async () => {
    const r = await fetch(`${t.origin}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: BODY,
    });
    if (r.status !== 200) throw new Error(`HTTP ${r.status} ${await r.text()}`);
  });
  targets.push(t);
}
const s = await sequential(targets, {
  body: () => ({
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: BODY,
  }),
  perTarget: Number(process.env.AB_N ?? 3000),
  block: 100,
  warmup: 1000,
  pick: "totalMs",
});
const base = percentile(s.get("plain") ?? [], 50);
for (const t of targets) {
  const xs = s.get(t.name) ?? [];
  console.log(
    t.name.padEnd(12),
    "p50",
    percentile(xs, 50).toFixed(3),
    "added",
    (percentile(xs, 50) - base).toFixed(3),
    "p90",
    percentile(xs, 90).toFixed(3),
  );
}
await killAll();
process.exit(0);
