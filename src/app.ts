import type { IncomingMessage, ServerResponse } from "node:http";
import type { Hono } from "hono";
import type { LoadedConfig } from "./config/load.js";
import { createLogger, type Logger } from "./log.js";
import { createMetrics } from "./metrics/index.js";
import { buildPipeline } from "./pipeline/index.js";
import { createProviderClient } from "./providers/registry.js";
import type { ProviderClient } from "./providers/types.js";
import { buildRoutingTable } from "./routing/table.js";
import { createRequestListener } from "./server/listener.js";
import { createModelCallHandler } from "./server/model-call.js";
import { createHttpApp } from "./server/routes.js";

export interface Gateway {
  /** Every route, for app.request() and non-node runtimes. */
  readonly app: Hono;
  /** What a node http server runs: the model-call fast lane, then hono. */
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  readonly logger: Logger;
  /** Requests (streams included) not yet finished. */
  inFlight(): number;
  /** Closes upstream pools; call after the HTTP server stopped taking requests. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  logger?: Logger;
}

/** Wires every service from the config. The one place that will choose memory or Redis, embedded SQL or Postgres. */
export function createGateway(loaded: LoadedConfig, options: GatewayOptions = {}): Gateway {
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.server.log_level);
  for (const warning of loaded.warnings) logger.warn(warning);

  const clients = new Map<string, ProviderClient>();
  for (const [name, provider] of Object.entries(config.providers)) {
    const client = createProviderClient(name, provider, config.server.timeouts, loaded.missingKeys.get(name));
    if (client.unavailable) logger.warn({ provider: name }, client.unavailable);
    clients.set(name, client);
  }

  const table = buildRoutingTable(config, clients);
  const pipeline = buildPipeline({ table });
  const metrics = createMetrics();
  const handleModelCall = createModelCallHandler({ pipeline, bodyLimit: config.server.body_limit, metrics, logger });
  const app = createHttpApp({
    table,
    metrics,
    readiness: [],
    handleModelCall,
    onUnhandledError: (err, path) => logger.error({ err, path }, "unhandled error"),
  });

  return {
    app,
    listener: createRequestListener(app, handleModelCall, logger),
    inFlight: () => metrics.inFlight.count,
    logger,
    async close() {
      await Promise.allSettled([...clients.values()].map((c) => c.close()));
    },
  };
}
