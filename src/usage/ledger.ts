import type { Store } from "../store/index.js";
import type { UsageRecord } from "./record.js";
import { storeSink, type UsageSink } from "./sink.js";
import { Spool } from "./spool.js";

/** Metric hooks (the metrics module adapts them to prom-client; nothing here imports it). */
export interface LedgerObserver {
  written(n: number, seconds: number): void;
  failed(n: number, reason: string): void;
  spooled(n: number): void;
  replayed(n: number): void;
  dropped(n: number): void;
}

/** The subset of pino the ledger uses. */
export interface LedgerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LedgerOptions {
  store: Store;
  /** Defaults to the store; tests wrap it to make writes fail for a while. */
  sink?: UsageSink;
  /** Flush the buffer this often. Default 200. */
  flushIntervalMs?: number;
  /** Flush as soon as this many records are buffered; also the rows per insert. Default 500. */
  batchSize?: number;
  /** Where batches the database did not take are written. Default `.tollgate/spool`. */
  spoolDir?: string;
  /** Bound of the spool on disk. Default 256 MiB. */
  spoolMaxBytes?: number;
  /** When the spool is full or unwritable, the newest records kept in memory; older ones are dropped. Default 100,000. */
  maxHeldRecords?: number;
  /** Bound of the buffer not yet handed to a write (a database slower than the traffic); oldest dropped. Default 200,000. */
  maxBufferedRecords?: number;
  /** Replay backoff: first wait, doubling up to the cap, with jitter. Defaults 250 and 30,000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  observer?: Partial<LedgerObserver>;
  log?: LedgerLog;
  /** close() also closes the store. Default true. */
  closeStore?: boolean;
}

type Step = "progress" | "failed" | "done";

const stderrLog: LedgerLog = {
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: "warn", ...obj, msg })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: "error", ...obj, msg })}\n`),
};

const reasonOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Writes exactly one row per request, off the request path. `record()` only pushes to a buffer; one write lane
 * flushes it in batches (every `flushIntervalMs` or at `batchSize`). A batch the database refuses goes to the
 * spool on disk and a replay loop retries with exponential backoff; while the database is down, new batches go
 * straight to the spool. Inserts skip request ids already stored, so a retried or replayed batch is harmless.
 * Spool full: the newest `maxHeldRecords` wait in memory (logged as an error, counted by `dropped` past that).
 */
export class UsageLedger {
  private readonly sink: UsageSink;
  private readonly spool: Spool;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxHeld: number;
  private readonly maxBuffered: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly observer: Partial<LedgerObserver>;
  private readonly log: LedgerLog;

  private buffer: UsageRecord[] = [];
  /** Records neither the database nor the spool took; replayed after the spool. */
  private held: UsageRecord[] = [];
  private inFlight = 0;
  private lane: Promise<unknown> = Promise.resolve();
  private queuedDrain: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dbDown = false;
  private spoolFullLogged = false;
  private replaying = false;
  private replayLoopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private closing = false;
  private closed = false;
  private closeDone: Promise<void> | null = null;

  private constructor(private readonly options: LedgerOptions) {
    this.sink = options.sink ?? storeSink(options.store);
    this.spool = new Spool(options.spoolDir ?? ".tollgate/spool", options.spoolMaxBytes ?? 256 * 1024 * 1024);
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.maxHeld = options.maxHeldRecords ?? 100_000;
    this.maxBuffered = options.maxBufferedRecords ?? 200_000;
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.observer = options.observer ?? {};
    this.log = options.log ?? stderrLog;
  }

  /** Opens the spool directory and starts replaying what a previous process left in it. */
  static async open(options: LedgerOptions): Promise<UsageLedger> {
    const ledger = new UsageLedger(options);
    await ledger.spool.open();
    if (ledger.spool.nextSealed()) ledger.startReplay();
    return ledger;
  }

  /** Sync and O(1); never throws, never waits. */
  record(r: UsageRecord): void {
    try {
      if (this.closed) {
        this.drop(1, "record() after close()");
        return;
      }
      if (this.buffer.length >= this.maxBuffered) {
        this.buffer.shift();
        this.drop(1, "buffer full: the database is slower than the traffic");
      }
      this.buffer.push(r);
      if (this.buffer.length >= this.batchSize) void this.flush();
      else if (!this.timer) {
        this.timer = setTimeout(() => void this.flush(), this.flushIntervalMs);
        this.timer.unref();
      }
    } catch {
      // The request path must not fail because of its usage record.
    }
  }

  /** Resolves when every record recorded before the call is in the database or the spool. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queuedDrain) return this.queuedDrain;
    const drain = this.lane.then(() => {
      this.queuedDrain = null;
      return this.drain();
    });
    this.queuedDrain = drain;
    this.lane = drain.catch(() => {});
    return drain;
  }

  /** Records not yet in the database or the spool (buffered, being written, or held in memory). */
  pending(): number {
    return this.buffer.length + this.inFlight + this.held.length;
  }

  spoolBytes(): number {
    return this.spool.bytes();
  }

  /** Flushes the buffer, replays the spool once (no backoff), then closes the store. Safe to call twice. */
  close(): Promise<void> {
    this.closeDone ??= this.shutdown();
    return this.closeDone;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.replayLoopDone;
    await this.flush();
    let step: Step = "progress";
    while (step === "progress") step = await this.replayStep();
    this.closed = true;
    await this.flush();
    if (this.held.length > 0) {
      // The database is still down and the spool is full: past its bound beats losing them.
      const n = this.held.length;
      try {
        await this.spool.append(this.held.splice(0), true);
        this.emit("spooled", n);
      } catch (err) {
        this.drop(n, `spool unwritable at close: ${reasonOf(err)}`);
      }
    }
    await this.spool.close();
    if (this.spool.bytes() > 0) {
      this.log.warn(
        { spoolBytes: this.spool.bytes() },
        "usage ledger closed with records on the spool; replayed on next start",
      );
    }
    if (this.options.closeStore ?? true) await this.options.store.close();
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const all = this.buffer;
      this.buffer = [];
      this.inFlight += all.length;
      for (let i = 0; i < all.length; i += this.batchSize) {
        const batch = all.slice(i, i + this.batchSize);
        try {
          await this.writeBatch(batch);
        } finally {
          this.inFlight -= batch.length;
        }
      }
    }
  }

  private async writeBatch(batch: UsageRecord[]): Promise<void> {
    if (!this.dbDown) {
      const t0 = performance.now();
      try {
        await this.sink.insert(batch);
        this.emit("written", batch.length, (performance.now() - t0) / 1000);
        return;
      } catch (err) {
        this.dbDown = true;
        this.emit("failed", batch.length, reasonOf(err));
        this.log.warn(
          { err: reasonOf(err), records: batch.length },
          "usage write failed; spooling until the database is back",
        );
      }
    }
    await this.toSpool(batch);
    this.startReplay();
  }

  /** Runs in the write lane only. */
  private async toSpool(batch: UsageRecord[]): Promise<void> {
    try {
      if (await this.spool.append(batch)) {
        this.emit("spooled", batch.length);
        this.spoolFullLogged = false;
        return;
      }
      if (!this.spoolFullLogged) {
        this.spoolFullLogged = true;
        this.log.error(
          { spoolBytes: this.spool.bytes(), spoolMaxBytes: this.spool.maxBytes, maxHeldRecords: this.maxHeld },
          "usage spool is FULL: keeping the newest records in memory, older ones will be dropped",
        );
      }
    } catch (err) {
      this.log.error({ err: reasonOf(err) }, "usage spool write failed: keeping records in memory");
    }
    this.hold(batch);
  }

  private hold(records: UsageRecord[], atFront = false): void {
    if (atFront) this.held = records.concat(this.held);
    else for (const r of records) this.held.push(r);
    const excess = this.held.length - this.maxHeld;
    if (excess > 0) {
      this.held.splice(0, excess);
      this.drop(excess, "spool full and in-memory bound reached: oldest records dropped");
    }
  }

  private drop(n: number, reason: string): void {
    this.emit("dropped", n);
    this.log.error({ records: n }, `usage records LOST: ${reason}`);
  }

  private startReplay(): void {
    if (this.replaying || this.closing) return;
    this.replaying = true;
    this.replayLoopDone = this.replayLoop();
  }

  private async replayLoop(): Promise<void> {
    let attempt = 0;
    while (!this.closing) {
      const step = await this.replayStep();
      if (step === "done") return;
      if (step === "progress") attempt = 0;
      else await this.sleep(this.backoff(attempt++));
    }
    this.replaying = false;
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(attempt, 30));
    return cap / 2 + (Math.random() * cap) / 2;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** One unit of replay: a sealed file, a batch of held records, or sealing the file being appended to. */
  private async replayStep(): Promise<Step> {
    const file = this.spool.nextSealed();
    if (file) {
      const { records, skipped } = await this.spool.read(file);
      if (skipped > 0) this.log.warn({ file, skipped }, "usage spool: unreadable lines skipped (torn write)");
      if (!(await this.replay(records))) return "failed";
      await this.spool.remove(file);
      return "progress";
    }
    if (this.held.length > 0) {
      const batch = this.held.splice(0, this.batchSize);
      if (await this.replay(batch)) return "progress";
      this.hold(batch, true);
      return "failed";
    }
    // Appends happen in the write lane, so "nothing left" is decided there: no batch can slip in unseen.
    const next = this.lane.then(async (): Promise<Step> => {
      if (this.spool.hasCurrent()) {
        await this.spool.seal();
        return "progress";
      }
      if (this.held.length > 0 || this.spool.nextSealed()) return "progress";
      this.replaying = false;
      return "done";
    });
    this.lane = next.catch(() => {});
    return next;
  }

  /** True when the records are stored (rows the database rejects as data errors are dropped, loudly). */
  private async replay(records: UsageRecord[]): Promise<boolean> {
    for (let i = 0; i < records.length; i += this.batchSize) {
      const batch = records.slice(i, i + this.batchSize);
      try {
        await this.sink.insert(batch);
        this.dbDown = false;
        this.emit("replayed", batch.length);
      } catch (err) {
        this.emit("failed", batch.length, reasonOf(err));
        // One bad row must not block the spool forever; any other error is retried with backoff.
        if (!this.sink.isRowRejection(err) || !(await this.replayOneByOne(batch))) {
          this.dbDown = true;
          return false;
        }
      }
    }
    return true;
  }

  /** False when a row fails for another reason than itself (the database went away meanwhile). */
  private async replayOneByOne(batch: UsageRecord[]): Promise<boolean> {
    for (const r of batch) {
      try {
        await this.sink.insert([r]);
        this.emit("replayed", 1);
      } catch (err) {
        if (!this.sink.isRowRejection(err)) return false;
        this.drop(1, `row rejected by the database (request ${String(r.requestId)}): ${reasonOf(err)}`);
      }
    }
    return true;
  }

  private emit<K extends keyof LedgerObserver>(name: K, ...args: Parameters<LedgerObserver[K]>): void {
    try {
      (this.observer[name] as ((...a: Parameters<LedgerObserver[K]>) => void) | undefined)?.(...args);
    } catch {
      // A broken metric hook must not stop the ledger.
    }
  }
}
