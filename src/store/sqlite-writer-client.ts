import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WriterReply, WriterRequest } from "./sqlite-writer-protocol.js";

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

// From dist/ the thread is plain JS. From the sources (tests, tsx) it registers tsx's loader first: a worker
// does not inherit the loader, and Node 20 ignores --import in a worker's execArgv.
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const WORKER_URL = FROM_SOURCE ? sourceBootstrap() : new URL("./sqlite-writer.js", import.meta.url);

function sourceBootstrap(): URL {
  // The ESM entry, by tsx's own exports map (require.resolve would give the CommonJS one).
  const tsxRoot = pathToFileURL(createRequire(import.meta.url).resolve("tsx/package.json"));
  const tsx = new URL("./dist/esm/api/index.mjs", tsxRoot).href;
  const entry = new URL("./sqlite-writer.ts", import.meta.url).href;
  const code = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/**
 * Runs the embedded store's batch inserts on a writer thread. The thread starts on the first insert and is
 * started again after a crash (the batch in flight fails, and the ledger retries or spools it, as for any
 * database error). It keeps the process alive only while a batch is in flight.
 */
export class SqliteWriter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly path: string) {}

  insert(sql: string, columns: readonly string[], rows: readonly Record<string, unknown>[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ op: "insert", id, sql, columns, rows } satisfies WriterRequest);
    });
  }

  /** Waits for the thread to finish what it was given, then stops it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.ref();
    // Messages are handled in order, so the batches sent before this are written before the thread closes.
    worker.postMessage({ op: "close" } satisfies WriterRequest);
    await exited;
  }

  private start(): Worker {
    const worker = new Worker(WORKER_URL, { workerData: { path: this.path } });
    worker.unref();
    worker.on("message", (reply: WriterReply) => this.settle(reply));
    worker.on("error", (err) => this.fail(worker, err));
    worker.on("exit", (code) => this.fail(worker, new Error(`the SQLite writer thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private settle(reply: WriterReply): void {
    const waiter = this.pending.get(reply.id);
    if (waiter === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.error === undefined) {
      waiter.resolve();
      return;
    }
    const err = new Error(reply.error.message) as Error & { code?: string };
    if (reply.error.code !== undefined) err.code = reply.error.code;
    waiter.reject(err);
  }

  private fail(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}
