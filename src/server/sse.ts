import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import type { ByteStream } from "../providers/types.js";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no", // proxies such as nginx must not buffer the stream
};

const RELAYED = Symbol("relayed stream");
type RelayingResponse = ServerResponse & { [RELAYED]?: ByteStream };

/**
 * Sends an SSE stream. Under @hono/node-server chunks go straight to the node response as they arrive, as a bare
 * proxy would; elsewhere (app.request in tests, other runtimes) through a web ReadableStream.
 */
export function sendStream(c: Context, status: number, headers: Record<string, string>, stream: ByteStream): Response {
  Object.assign(headers, SSE_HEADERS);
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing === undefined) return new Response(toReadableStream(stream), { status, headers });
  void relay(stream, outgoing as RelayingResponse, status, headers);
  return RESPONSE_ALREADY_SENT;
}

async function relay(stream: ByteStream, res: RelayingResponse, status: number, headers: Record<string, string>) {
  res[RELAYED] = stream;
  res.once("close", cancelIfUnfinished);
  try {
    res.writeHead(status, headers);
    res.flushHeaders(); // the client learns the stream started before the first token
    for await (const chunk of stream) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
    if (!res.destroyed) res.end();
  } catch {
    res.destroy();
  }
}

function cancelIfUnfinished(this: RelayingResponse): void {
  if (!this.writableFinished) this[RELAYED]?.cancel();
  this[RELAYED] = undefined;
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function toReadableStream(stream: ByteStream): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await stream.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel() {
      stream.cancel();
    },
  });
}
