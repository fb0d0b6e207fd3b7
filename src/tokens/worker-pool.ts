import { Worker } from "node:worker_threads";
import { type EncodingName, encoderModulePaths } from "./encoding.js";

// The worker is an eval'd CommonJS script that requires js-tiktoken by absolute path, so the same code runs
// under tsx, vitest and the compiled dist/ without a separate .js file to ship or a loader to register.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { Tiktoken } = require(workerData.lite);
const encoders = new Map();
function encoder(name) {
  let e = encoders.get(name);
  if (!e) { e = new Tiktoken(require(workerData.ranks[name])); encoders.set(name, e); }
  return e;
}
for (const name of workerData.preload) encoder(name);
parentPort.on("message", (m) => {
  try {
    const e = encoder(m.encoding);
    let tokens = 0;
    for (const text of m.texts) tokens += e.encode(text, [], []).length;
    parentPort.postMessage({ id: m.id, tokens });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
`;

interface Pending {
  resolve: (tokens: number) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

export interface TokenWorkerPoolOptions {
  /** Worker threads (default 1: each holds its own encoders, ~0.7 s and tens of MB per encoding). */
  size?: number;
  /** Encodings each worker builds when it starts, so the first big count does not wait for them. */
  preload?: EncodingName[];
}

/** A small pool of reused worker threads that encode texts and answer the token total. */
export class TokenWorkerPool {
  private readonly slots: Array<Slot | undefined>;
  private readonly preload: EncodingName[];
  private nextId = 0;
  private next = 0;

  constructor(options: TokenWorkerPoolOptions = {}) {
    this.slots = new Array<Slot | undefined>(Math.max(1, options.size ?? 1)).fill(undefined);
    this.preload = options.preload ?? ["o200k_base"];
  }

  /** Starts the workers now (they otherwise start on the first count). */
  warm(): void {
    for (let i = 0; i < this.slots.length; i++) this.slot(i);
  }

  count(texts: string[], encoding: EncodingName): Promise<number> {
    const index = this.leastBusy();
    const slot = this.slot(index);
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, encoding, texts });
    });
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0, this.slots.length, ...this.slots.map(() => undefined));
    await Promise.all(slots.map((slot) => slot?.worker.terminate()));
  }

  private leastBusy(): number {
    let best = this.next;
    this.next = (this.next + 1) % this.slots.length;
    for (let i = 0; i < this.slots.length; i++) {
      if ((this.slots[i]?.pending.size ?? 0) < (this.slots[best]?.pending.size ?? 0)) best = i;
    }
    return best;
  }

  private slot(index: number): Slot {
    const existing = this.slots[index];
    if (existing) return existing;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ...encoderModulePaths(), preload: this.preload },
    });
    // An idle worker must not keep the process alive; it is ref'd while it owes an answer.
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on("message", (message: { id: number; tokens?: number; error?: string }) => {
      const entry = slot.pending.get(message.id);
      if (!entry) return;
      slot.pending.delete(message.id);
      if (slot.pending.size === 0) worker.unref();
      if (message.error !== undefined) entry.reject(new Error(`token worker: ${message.error}`));
      else entry.resolve(message.tokens ?? 0);
    });
    const fail = (error: Error) => {
      if (this.slots[index] === slot) this.slots[index] = undefined; // the next count starts a fresh worker
      for (const entry of slot.pending.values()) entry.reject(error);
      slot.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`token worker exited with code ${code}`)));
    this.slots[index] = slot;
    return slot;
  }
}
