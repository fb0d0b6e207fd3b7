import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";
import type { AbortSignalLike, RelayStream } from "../providers/types.js";
import { tooLarge } from "./http.js";

/**
 * One HTTP request/response as the model-call handler sees it, over node's own objects (the fast lane) or a
 * hono Context (app.request, other runtimes). `R` is what the send methods give back for the caller to return.
 */
export interface Exchange<R> {
  readonly requestId: string;
  /** The Authorization header, as sent. */
  authorization(): string | undefined;
  /** Any request header by lowercase name (the first value of a repeated one). */
  header(name: string): string | undefined;
  readBody(limit: number): Promise<string>;
  /** Emits "abort" (or aborts) when the client goes away before the answer is complete. */
  clientGone(): AbortSignalLike;
  sendJson(status: number, body: string | Uint8Array, headers: Record<string, string>): R;
  sendStream(status: number, headers: Record<string, string>, stream: RelayStream): R;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's x-request-id when it is a sane token, else a fresh time-ordered one (UUIDv7). */
export function requestIdFrom(given: string | undefined): string {
  return given !== undefined && REQUEST_ID.test(given) ? given : uuidV7();
}

let stampMs = -1;
let stampHex = "";

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomUUID()'s random bits. Request ids are the usage
 * ledger's primary key, and time-ordered keys land at the end of its index where random v4 ids touched a page
 * each: SQLite's insert cost fell from ~45 to ~18 µs a row at 80k rows, and stayed flat (measured). uuid@14's
 * v7() costs ~4.7 µs a call (a getRandomValues per id) against ~0.5 µs here, on the request path.
 */
export function uuidV7(now: number = Date.now()): string {
  if (now !== stampMs) {
    stampMs = now;
    const hex = now.toString(16).padStart(12, "0");
    stampHex = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
  }
  // randomUUID is xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx: keep the 74 random bits after the version nibble.
  return stampHex + randomUUID().slice(15);
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no", // proxies such as nginx must not buffer the stream
};

const RELAYED = Symbol("relayed stream");
type NodeResponse = ServerResponse & { [RELAYED]?: RelayStream };

/** Straight on node's request and response: what a bare proxy does, without a framework in between. */
export class NodeExchange implements Exchange<void> {
  readonly requestId: string;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: NodeResponse,
  ) {
    const given = req.headers["x-request-id"];
    this.requestId = requestIdFrom(typeof given === "string" ? given : undefined);
  }
  authorization(): string | undefined {
    return this.req.headers.authorization;
  }
  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return typeof value === "string" ? value : value?.[0];
  }

  readBody(limit: number): Promise<string> {
    const req = this.req;
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners("data");
          req.resume(); // drain without keeping it, then answer 413
          reject(tooLarge(limit));
        } else chunks.push(chunk);
      });
      req.once("end", () =>
        resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString()),
      );
      req.once("error", reject);
    });
  }

  clientGone(): AbortSignalLike {
    this.res.once("close", emitAbortIfUnfinished);
    return this.res;
  }

  sendJson(status: number, body: string | Uint8Array, headers: Record<string, string>): void {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
    headers["x-request-id"] = this.requestId;
    this.res.writeHead(status, headers);
    this.res.end(body);
  }

  sendStream(status: number, headers: Record<string, string>, stream: RelayStream): void {
    Object.assign(headers, SSE_HEADERS);
    headers["x-request-id"] = this.requestId;
    void relayToNode(stream, this.res, status, headers);
  }
}

function emitAbortIfUnfinished(this: ServerResponse): void {
  if (!this.writableFinished) this.emit("abort");
}

async function relayToNode(stream: RelayStream, res: NodeResponse, status: number, headers: Record<string, string>) {
  res[RELAYED] = stream;
  res.once("close", cancelIfUnfinished);
  try {
    // Headers leave with the first chunk, as a bare proxy sends them: flushing them alone cost a syscall per
    // stream, and the upstream's first chunk (the role delta) follows its headers at once.
    res.writeHead(status, headers);
    for await (const chunk of stream.chunks) {
      if (res.destroyed) return;
      const out = stream.onChunk(chunk);
      if (out !== undefined && !res.write(out)) await drainedOrClosed(res);
    }
    if (res.destroyed) return;
    const tail = stream.onEnd();
    if (tail === undefined) res.end();
    else res.end(tail);
  } catch (err) {
    if (!res.destroyed) res.end(stream.onError(err));
  }
}

function cancelIfUnfinished(this: NodeResponse): void {
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

/** Through hono's Context and web Response: where no node response exists (app.request, other runtimes). */
export class WebExchange implements Exchange<Response> {
  readonly requestId: string;

  constructor(private readonly c: Context) {
    this.requestId = requestIdFrom(c.req.header("x-request-id"));
  }
  authorization(): string | undefined {
    return this.c.req.header("authorization");
  }
  header(name: string): string | undefined {
    return this.c.req.header(name);
  }

  async readBody(limit: number): Promise<string> {
    const declared = this.c.req.header("content-length");
    if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
    const body = this.c.req.raw.body;
    if (body === null) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString();
  }

  clientGone(): AbortSignalLike {
    return this.c.req.raw.signal;
  }

  sendJson(status: number, body: string | Uint8Array, headers: Record<string, string>): Response {
    headers["content-type"] = "application/json";
    headers["x-request-id"] = this.requestId;
    return new Response(body, { status, headers });
  }

  sendStream(status: number, headers: Record<string, string>, stream: RelayStream): Response {
    Object.assign(headers, SSE_HEADERS);
    headers["x-request-id"] = this.requestId;
    return new Response(toReadableStream(stream), { status, headers });
  }
}

function toReadableStream(stream: RelayStream): ReadableStream<Uint8Array> {
  const source = stream.chunks;
  const chunks =
    Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  let ended = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          const next = await chunks.next();
          if (next.done) {
            ended = true;
            const tail = stream.onEnd();
            if (tail !== undefined) controller.enqueue(tail);
            controller.close();
            return;
          }
          const out = stream.onChunk(next.value);
          if (out !== undefined) {
            controller.enqueue(out);
            return;
          }
        }
      } catch (err) {
        if (ended) return;
        ended = true;
        controller.enqueue(stream.onError(err));
        controller.close();
      }
    },
    cancel() {
      if (!ended) stream.cancel();
    },
  });
}
