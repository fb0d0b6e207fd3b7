import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createGateway, type Gateway, type GatewayOptions } from "../../src/app.js";
import { parseConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/log.js";

export interface TestGateway {
  gateway: Gateway;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** What an OpenAI SDK takes as baseURL. */
  baseURL: string;
  /** Every log line the gateway wrote, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Starts a gateway in this process on a free port, from YAML text, logging into memory. */
export async function startGateway(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  options: Pick<GatewayOptions, "spanProcessors"> = {},
): Promise<TestGateway> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  // Tests never reach for the live price source (there is no network here): the bundled prices serve.
  const text = /^pricing:/m.test(yaml) ? yaml : `${yaml}\npricing:\n  sources: []\n`;
  const loaded = parseConfig(text, "routes.yaml", { env });
  // Each gateway keeps its embedded state (usage database, spool, price cache) in a directory of its own.
  const dataDir = env.TOLLGATE_DATA_DIR ?? (await mkdtemp(join(tmpdir(), "tollgate-test-")));
  const gateway = await createGateway(loaded, {
    ...options,
    logger: createLogger("info", sink),
    env: {
      ...env,
      TOLLGATE_DATA_DIR: dataDir,
      DATABASE_URL: env.DATABASE_URL ?? "",
      // On Postgres, a schema of its own unless the test shares one between gateways on purpose.
      TOLLGATE_DB_SCHEMA: env.TOLLGATE_DB_SCHEMA ?? (env.DATABASE_URL ? `t_${randomBytes(6).toString("hex")}` : ""),
    },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = createServer(gateway.listener);
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    gateway,
    origin,
    baseURL: `${origin}/v1`,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
    },
  };
}

/** A chat completion request to a gateway without auth (for tests whose gateway runs open). */
export function postOpen(gw: Pick<TestGateway, "origin">, body: object): Promise<Response> {
  return fetch(`${gw.origin}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Polls until `check` passes or the time is up (for effects that land after the response, like log lines). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
