#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { parseArgs } from "node:util";
import { ADMIN_COMMANDS, runAdminCommand } from "./admin/cli.js";
import { createGateway, type Gateway } from "./app.js";
import { ConfigError, loadConfig } from "./config/load.js";
import { PricingFileError } from "./pricing/index.js";
import { preloadEncoders } from "./tokens/index.js";

const HELP = `tollgate: an OpenAI-compatible LLM gateway

Usage: tollgate [options]

Options:
  -c, --config <file>    routes.yaml to load (default: $TOLLGATE_CONFIG or ./routes.yaml)
      --secrets <file>   secrets.yaml with provider keys, {<provider>: {api_key: ...}}
                         (default: $TOLLGATE_SECRETS)
  -p, --port <port>      port to listen on (overrides server.port)
      --host <host>      interface to listen on (overrides server.host)
      --check            validate the config and exit (0 when valid)
  -v, --version          print the version
  -h, --help             print this help

Admin commands: tollgate orgs|teams|keys|budgets ... (tollgate keys --help)

Environment: provider keys are read from the variables routes.yaml names (e.g. \${OPENAI_API_KEY}).
Docs: README.md`;

async function main(argv: string[]): Promise<number> {
  // `tollgate keys create ...`, `tollgate budgets set ...`: the admin commands, on the same store.
  if ((ADMIN_COMMANDS as readonly string[]).includes(argv[0] ?? "")) return runAdminCommand(argv, process.env);
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    process.stderr.write(`tollgate: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const opts = args.values;
  if (opts.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (opts.version) {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }

  const file = opts.config ?? process.env.TOLLGATE_CONFIG ?? "routes.yaml";
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig(file, { secretsFile: opts.secrets ?? process.env.TOLLGATE_SECRETS });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tollgate: invalid configuration\n${err.message}\n`);
    return 2;
  }
  if (opts.check) {
    process.stdout.write(`${file}: ok\n`);
    for (const w of loaded.warnings) process.stdout.write(`warning: ${w}\n`);
    for (const [provider, variable] of loaded.missingKeys) {
      process.stdout.write(`warning: provider '${provider}' is disabled until ${variable} is set\n`);
    }
    return 0;
  }

  const server = loaded.config.server;
  const port = opts.port === undefined ? server.port : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`tollgate: --port expects an integer from 0 to 65535, got "${opts.port}"\n`);
    return 2;
  }
  const hostname = opts.host ?? server.host;
  let gateway: Gateway;
  try {
    gateway = await createGateway(loaded);
    // The tokenizer's encoder takes ~1 s to build: built before listening, not inside the first request.
    preloadEncoders(["o200k_base"]);
  } catch (err) {
    // A file the config names (prices, an embedding model) that cannot be used: the config's error, not a crash.
    if (err instanceof PricingFileError || err instanceof ConfigError) {
      process.stderr.write(`tollgate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { logger } = gateway;

  const http = await new Promise<Server>((resolve, reject) => {
    const s = createServer(gateway.listener);
    s.once("error", reject);
    s.listen(port, hostname, () => resolve(s));
  }).catch((err: NodeJS.ErrnoException) => {
    logger.fatal({ err: { code: err.code, message: err.message } }, `cannot listen on ${hostname}:${port}`);
    return undefined;
  });
  if (!http) {
    logger.flush();
    return 1;
  }
  // Streams can be long; let node time them out only when truly idle.
  http.requestTimeout = 0;
  http.keepAliveTimeout = 65_000;
  const address = http.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  logger.info(
    { config: file, host: hostname, port: boundPort },
    `tollgate listening on http://${hostname}:${boundPort}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, in_flight: gateway.inFlight() }, "shutting down: draining in-flight requests");
    const drained = await drain(http, server.shutdown_grace_ms);
    if (!drained) logger.warn({ in_flight: gateway.inFlight() }, "grace period over: closing remaining connections");
    await gateway.close();
    logger.info("stopped");
    logger.flush();
    process.exitCode = 0;
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  return -1; // keep running
}

/**
 * Stops taking connections and lets every in-flight response (streams included) finish: a connection is closed
 * as soon as it is idle, and the server's close fires when none is left. No per-request tracking needed.
 */
async function drain(http: Server, graceMs: number): Promise<boolean> {
  const closed = new Promise<boolean>((resolve) => http.close(() => resolve(true)));
  http.closeIdleConnections();
  const sweep = setInterval(() => http.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), graceMs);
  });
  const drained = await Promise.race([closed, late]);
  clearInterval(sweep);
  clearTimeout(timer);
  if (!drained) http.closeAllConnections();
  return drained;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: "string", short: "c" },
      secrets: { type: "string" },
      port: { type: "string", short: "p" },
      host: { type: "string" },
      check: { type: "boolean" },
      version: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tollgate: fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
