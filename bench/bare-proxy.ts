// The floor: the least a pass-through proxy can do (node:http in, undici Pool out, body streamed both ways).
// Usage: node --import tsx bench/bare-proxy.ts <listenPort> <upstreamOrigin>; prints its port once listening.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { Pool } from "undici";

const port = Number(process.argv[2] ?? 0);
const upstream = process.argv[3];
if (!upstream) throw new Error("usage: bare-proxy.ts <listenPort> <upstreamOrigin>");

const pool = new Pool(upstream, { connections: 128, pipelining: 1 });

const server = createServer(async (req, res) => {
  try {
    const headers: Record<string, string> = {};
    for (const name of ["content-type", "content-length", "authorization"]) {
      const v = req.headers[name];
      if (typeof v === "string") headers[name] = v;
    }
    const up = await pool.request({ method: req.method as "POST", path: req.url ?? "/", headers, body: req });
    const out: Record<string, string> = {};
    // content-length is kept so a JSON answer keeps its framing instead of turning chunked.
    for (const name of ["content-type", "content-length"]) {
      const v = up.headers[name];
      if (typeof v === "string") out[name] = v;
    }
    res.writeHead(up.statusCode, out);
    await pipeline(up.body, res);
  } catch (err) {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`bare-proxy: ${(err as Error).message}`);
  }
});
server.keepAliveTimeout = 65_000;

server.listen(port, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void pool.close().then(() => process.exit(0));
});
