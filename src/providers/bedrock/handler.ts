import type { Pool } from "undici";
import type { ProviderConfig, Timeouts } from "../../config/schema.js";
import { createPool } from "../http.js";

// The slice of the SDK's HttpRequest / HttpHandler (@smithy/types) this handler reads and provides.
interface SdkRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * The AWS SDK's transport, over the gateway's own keep-alive undici pool (createPool: max_connections and the
 * configured timeouts). The Bedrock runtime client's default is an HTTP/2 handler that, for these calls, opens
 * a session per request; this keeps connections alive like every other provider, and lets a cancelled stream
 * close its connection through the abort signal.
 */
export class UndiciHttpHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly config: ProviderConfig,
    private readonly timeouts: Timeouts,
  ) {}

  /** The keep-alive pool for an origin, shared with the signed JSON calls (converse.ts). */
  poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = createPool(origin, this.config, this.timeouts);
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async handle(request: SdkRequest, options?: { abortSignal?: unknown }) {
    const origin = `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ""}`;
    const pool = this.poolFor(origin);
    const headers = { ...request.headers };
    delete headers.host; // undici sets it from the origin
    const res = await pool.request({
      method: request.method as "POST",
      path: request.path + queryOf(request.query),
      headers,
      body: request.body as string | Uint8Array | undefined,
      signal: options?.abortSignal as AbortSignal | undefined,
    });
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    return { response: { statusCode: res.statusCode, headers: out, body: res.body } };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    for (const pool of this.pools.values()) void pool.close();
    this.pools.clear();
  }
}

function queryOf(query: SdkRequest["query"]): string {
  if (!query) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    const key = encodeURIComponent(k);
    if (v === null) parts.push(key);
    else for (const one of Array.isArray(v) ? v : [v]) parts.push(`${key}=${encodeURIComponent(one)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}
