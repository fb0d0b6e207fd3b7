// The hono floor: the least a hono app on @hono/node-server can do as a pass-through (undici Pool out).
// Measured between the bare proxy and Tollgate, it splits Tollgate's overhead into the framework's share
// (hono floor - bare) and Tollgate's own work (Tollgate - hono floor).
// Usage: node --import tsx bench/hono-proxy.ts <listenPort> <upstreamOrigin>; prints its port once listening.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Pool } from "undici";

const port = Number(process.argv[2] ?? 0);
const upstream = process.argv[3];
if (!upstream) throw new Error("usage: hono-proxy.ts <listenPort> <upstreamOrigin>");

const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const app = new Hono();

app.post("/v1/*", async (c) => {
  const body = await c.req.text();
  const up = await pool.request({
    method: "POST",
    path: c.req.path,
    headers: { "content-type": "application/json" },
    body,
  });
  const contentType = String(up.headers["content-type"] ?? "");
  const headers = { "content-type": contentType };
  // A string body is @hono/node-server's fast path; an SSE answer is passed on chunk by chunk.
  if (!contentType.startsWith("text/event-stream")) {
    return new Response(await up.body.text(), { status: up.statusCode, headers });
  }
  const it = up.body[Symbol.asyncIterator]();
  const stream = new ReadableStream({
    async pull(ctl) {
      const r = await it.next();
      r.done ? ctl.close() : ctl.enqueue(r.value);
    },
    cancel() {
      up.body.destroy();
    },
  });
  return new Response(stream, { status: up.statusCode, headers });
});

// keepAliveTimeout as in bare-proxy.ts and Tollgate (src/main.ts).
const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info: AddressInfo) =>
  process.stdout.write(`${info.port}\n`),
) as Server;
server.keepAliveTimeout = 65_000;
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void pool.close().then(() => process.exit(0));
});
