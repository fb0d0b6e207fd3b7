import type { CacheEntry } from "./entry.js";
import type { CacheStats, CacheStore } from "./store.js";

export interface MemoryCacheStoreOptions {
  /** Bytes of answers kept (sum of entry.bytes); Map and heap overhead, ~200 bytes an entry, is not counted. */
  maxBytes: number;
  /** Injected in tests. */
  now?: () => number;
}

interface Slot {
  key: string;
  entry: CacheEntry;
  /** GDSF value: the clock when last touched plus frequency × cost / size. */
  priority: number;
  /** Hits while cached, plus one for the set (GDSF's frequency; it restarts after an eviction). */
  frequency: number;
  /** Ties in priority (e.g. free answers) go least recently touched first. */
  touched: number;
  byPriority: number;
  byExpiry: number;
}

/**
 * The in-process tier, bounded by bytes and evicting by GreedyDual-Size-Frequency (Cherkasova, 1998) weighted by
 * the upstream cost a hit saves: priority = L + frequency × costUsd / bytes, where the clock L rises to each
 * evicted entry's priority. Expensive, popular, small answers stay; cheap large ones go first; and an answer
 * not touched for a while loses out as L climbs past it, so the policy also ages. get and set are O(log n):
 * one heap orders by priority, a second by expiry so expired answers leave before any live one is evicted.
 */
export class MemoryCacheStore implements CacheStore {
  private readonly slots = new Map<string, Slot>();
  private readonly byPriority = new SlotHeap(lowerPriority, "byPriority");
  private readonly byExpiry = new SlotHeap(expiresSooner, "byExpiry");
  private readonly maxBytes: number;
  private readonly now: () => number;
  private clock = 0;
  private touches = 0;
  private bytes = 0;
  private evictions = 0;

  constructor(options: MemoryCacheStoreOptions) {
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
  }

  /** The synchronous fast path behind get(): no promise when the caller can use the answer at once. */
  getSync(key: string): CacheEntry | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.entry.expiresAt <= this.now()) {
      this.remove(slot);
      return undefined;
    }
    slot.frequency++;
    slot.entry.hits = (slot.entry.hits ?? 0) + 1;
    this.reprioritise(slot);
    return slot.entry;
  }

  get(key: string): Promise<CacheEntry | undefined> {
    return Promise.resolve(this.getSync(key));
  }

  setSync(key: string, entry: CacheEntry, ttlMs: number): void {
    const now = this.now();
    const bytes = sizeOf(entry);
    const previous = this.slots.get(key);
    if (previous) this.remove(previous);
    if (bytes > this.maxBytes || ttlMs <= 0) return;
    this.dropExpired(now);
    while (this.bytes + bytes > this.maxBytes) this.evictOne();
    const stored: CacheEntry = {
      ...entry,
      bytes,
      expiresAt: now + ttlMs,
      hits: previous?.entry.hits ?? entry.hits ?? 0,
    };
    const slot: Slot = {
      key,
      entry: stored,
      priority: 0,
      frequency: previous ? previous.frequency : 1,
      touched: 0,
      byPriority: -1,
      byExpiry: -1,
    };
    this.slots.set(key, slot);
    this.bytes += bytes;
    this.byExpiry.push(slot);
    this.reprioritise(slot);
  }

  set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    this.setSync(key, entry, ttlMs);
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    const slot = this.slots.get(key);
    if (slot) this.remove(slot);
    return Promise.resolve();
  }

  statsSync(): CacheStats {
    this.dropExpired(this.now());
    return { entries: this.slots.size, bytes: this.bytes, evictions: this.evictions };
  }

  stats(): Promise<CacheStats> {
    return Promise.resolve(this.statsSync());
  }

  close(): Promise<void> {
    this.slots.clear();
    this.byPriority.clear();
    this.byExpiry.clear();
    this.bytes = 0;
    return Promise.resolve();
  }

  /** GDSF's H value, from the clock now: a touched answer is as fresh as the latest eviction plus its worth. */
  private reprioritise(slot: Slot): void {
    slot.priority = this.clock + (slot.frequency * slot.entry.costUsd) / slot.entry.bytes;
    slot.touched = ++this.touches;
    if (slot.byPriority === -1) this.byPriority.push(slot);
    else this.byPriority.update(slot);
  }

  private evictOne(): void {
    const victim = this.byPriority.peek();
    if (victim === undefined) return;
    this.clock = victim.priority;
    this.evictions++;
    this.remove(victim);
  }

  private dropExpired(now: number): void {
    for (
      let next = this.byExpiry.peek();
      next !== undefined && next.entry.expiresAt <= now;
      next = this.byExpiry.peek()
    ) {
      this.remove(next);
    }
  }

  private remove(slot: Slot): void {
    this.slots.delete(slot.key);
    this.byPriority.remove(slot);
    this.byExpiry.remove(slot);
    this.bytes -= slot.entry.bytes;
  }
}

/** Never zero, so cost / bytes stays finite; recomputed when a caller left it unset. */
function sizeOf(entry: CacheEntry): number {
  const bytes = entry.bytes > 0 ? entry.bytes : Buffer.byteLength(entry.body, "utf8");
  return Math.max(1, bytes);
}

function lowerPriority(a: Slot, b: Slot): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.touched < b.touched);
}

function expiresSooner(a: Slot, b: Slot): boolean {
  return a.entry.expiresAt < b.entry.expiresAt;
}

/** A binary min-heap of slots that records each slot's position in it, so any slot can be moved or removed in O(log n). */
class SlotHeap {
  private readonly items: Slot[] = [];

  constructor(
    private readonly less: (a: Slot, b: Slot) => boolean,
    private readonly position: "byPriority" | "byExpiry",
  ) {}

  peek(): Slot | undefined {
    return this.items[0];
  }

  push(slot: Slot): void {
    slot[this.position] = this.items.length;
    this.items.push(slot);
    this.up(this.items.length - 1);
  }

  update(slot: Slot): void {
    const at = slot[this.position];
    if (at === -1) return;
    this.down(this.up(at));
  }

  remove(slot: Slot): void {
    const at = slot[this.position];
    if (at === -1) return;
    slot[this.position] = -1;
    const last = this.items.pop() as Slot;
    if (at === this.items.length) return;
    this.place(last, at);
    this.down(this.up(at));
  }

  clear(): void {
    for (const slot of this.items) slot[this.position] = -1;
    this.items.length = 0;
  }

  /** Moves the slot at `at` towards the root while it beats its parent; returns where it ended. */
  private up(at: number): number {
    const slot = this.items[at] as Slot;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = this.items[parentAt] as Slot;
      if (!this.less(slot, parent)) break;
      this.place(parent, at);
      at = parentAt;
    }
    this.place(slot, at);
    return at;
  }

  private down(at: number): void {
    const slot = this.items[at] as Slot;
    const n = this.items.length;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(this.items[right] as Slot, this.items[left] as Slot)) child = right;
      const childSlot = this.items[child] as Slot;
      if (!this.less(childSlot, slot)) break;
      this.place(childSlot, at);
      at = child;
    }
    this.place(slot, at);
  }

  private place(slot: Slot, at: number): void {
    this.items[at] = slot;
    slot[this.position] = at;
  }
}
