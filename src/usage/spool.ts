import { type FileHandle, mkdir, open, readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { UsageRecord } from "./record.js";

const FILE = /^spool-\d+-\d+-\d+\.jsonl$/;
// Files are sealed at this size so replay can delete what it has written piece by piece.
const ROTATE_BYTES = 8 * 1024 * 1024;

/**
 * A directory of JSON-lines files holding usage records the database did not take. Appends are async and
 * fdatasync'd (a spooled batch survives a crash); a torn last line from a crash mid-append is skipped on read.
 * Only the ledger's write lane appends or seals; replay reads only sealed files, which nobody writes any more.
 * One directory per process: two replicas sharing one would replay each other's files (harmless, since inserts
 * are idempotent, but wasted work).
 */
export class Spool {
  private current: { path: string; handle: FileHandle; bytes: number } | null = null;
  private readonly sealed: string[] = [];
  private seq = 0;
  private totalBytes = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Finds the files a previous process left, oldest first. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).filter((n) => FILE.test(n)).sort();
    for (const name of names) {
      const path = join(this.dir, name);
      this.totalBytes += (await stat(path)).size;
      this.sealed.push(path);
    }
  }

  bytes(): number {
    return this.totalBytes;
  }

  hasCurrent(): boolean {
    return this.current !== null;
  }

  nextSealed(): string | undefined {
    return this.sealed[0];
  }

  /** Appends the records; false, appending nothing, when that would pass `maxBytes` (unless `force`). */
  async append(records: readonly UsageRecord[], force = false): Promise<boolean> {
    let data = "";
    for (const r of records) data += `${JSON.stringify(r)}\n`;
    const size = Buffer.byteLength(data);
    if (!force && this.totalBytes + size > this.maxBytes) return false;
    if (this.current && this.current.bytes >= ROTATE_BYTES) await this.seal();
    if (!this.current) {
      const path = join(this.dir, `spool-${Date.now()}-${process.pid}-${String(this.seq++).padStart(6, "0")}.jsonl`);
      this.current = { path, handle: await open(path, "a"), bytes: 0 };
    }
    await this.current.handle.write(data);
    await this.current.handle.datasync();
    this.current.bytes += size;
    this.totalBytes += size;
    return true;
  }

  /** Closes the file being appended to and queues it for replay. */
  async seal(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    await cur.handle.close();
    this.sealed.push(cur.path);
  }

  /** The records in a sealed file; lines that do not parse (a torn write) are counted in `skipped`. */
  async read(path: string): Promise<{ records: UsageRecord[]; skipped: number }> {
    const text = await readFile(path, "utf8");
    const records: UsageRecord[] = [];
    let skipped = 0;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const r = JSON.parse(line) as UsageRecord;
        if (typeof r?.requestId === "string") records.push(r);
        else skipped++;
      } catch {
        skipped++;
      }
    }
    return { records, skipped };
  }

  /** Deletes a sealed file once its records are in the database. */
  async remove(path: string): Promise<void> {
    const i = this.sealed.indexOf(path);
    if (i >= 0) this.sealed.splice(i, 1);
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    await unlink(path).catch(() => {});
    this.totalBytes = Math.max(0, this.totalBytes - size);
  }

  async close(): Promise<void> {
    await this.seal();
  }
}
