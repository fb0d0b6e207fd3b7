// The floor for a cache hit: node:http answering every request with the same bytes, read from a file, after
// reading the request body whole. What a hit costs above this is the gateway's own work.
// Usage: node --import tsx bench/fixed-answer.ts <listenPort> <answerFile>; prints its port once listening.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const port = Number(process.argv[2] ?? 0);
const file = process.argv[3];
if (!file) throw new Error("usage: fixed-answer.ts <listenPort> <answerFile>");
const answer = readFileSync(file);
const headers = { "content-type": "application/json", "content-length": String(answer.byteLength) };

const server = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, headers);
    res.end(answer);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
