import { GatewayError } from "../errors.js";

export type Priority = "high" | "normal" | "low";
export type Release = () => void;

export interface PriorityGateOptions {
  /** Calls in flight on the deployment at once. */
  maxConcurrent: number;
  /** Waiters across all tiers; past it the lowest-priority waiter is shed. */
  maxQueue: number;
  /** The retry-after (seconds) a shed request carries. */
  retryAfterSec?: number;
}

const TIER: Record<Priority, 0 | 1 | 2> = { high: 0, normal: 1, low: 2 };

/** A queued acquire; a node of its tier's doubly linked list, so an abort leaves the queue in O(1). */
interface Waiter {
  tier: 0 | 1 | 2;
  resolve: (release: Release) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  prev: Waiter | undefined;
  next: Waiter | undefined;
  queued: boolean;
}

class Tier {
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;

  push(w: Waiter): void {
    w.prev = this.tail;
    w.next = undefined;
    if (this.tail) this.tail.next = w;
    else this.head = w;
    this.tail = w;
  }

  remove(w: Waiter): void {
    if (w.prev) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next) w.next.prev = w.prev;
    else this.tail = w.prev;
    w.prev = w.next = undefined;
  }
}

/**
 * Concurrency limit of one deployment with priority tiers. When all slots are taken, waiters are served high
 * before normal before low, FIFO within a tier. When the queue is full, the newest waiter of the lowest tier is
 * shed (or the new request, when nothing queued is lower) with a 429 `overloaded_shed`. Every operation is O(1):
 * three linked lists and a count.
 */
export class PriorityGate {
  private readonly tiers = [new Tier(), new Tier(), new Tier()] as const;
  private readonly maxConcurrent: number;
  private readonly maxQueue: number;
  private readonly retryAfterSec: number;
  private active = 0;
  private queued = 0;

  constructor(options: PriorityGateOptions) {
    this.maxConcurrent = Math.max(1, options.maxConcurrent);
    this.maxQueue = Math.max(0, options.maxQueue);
    this.retryAfterSec = options.retryAfterSec ?? 1;
  }

  get inFlight(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queued;
  }

  /**
   * Resolves with the release of a slot (call it exactly once; later calls do nothing).
   * @throws GatewayError 429 `overloaded_shed` when shed; the signal's reason when aborted while waiting.
   */
  acquire(priority: Priority, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.active < this.maxConcurrent && this.queued === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    const tier = TIER[priority];
    if (this.queued >= this.maxQueue) {
      const victim = this.lowestWaiter();
      // Ties shed the newcomer: a waiter of the same tier has been waiting longer.
      if (victim === undefined || victim.tier <= tier) return Promise.reject(this.shed());
      this.dequeue(victim);
      victim.reject(this.shed());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        tier,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        prev: undefined,
        next: undefined,
        queued: true,
      };
      if (signal) {
        waiter.onAbort = () => {
          if (!waiter.queued) return;
          this.dequeue(waiter);
          reject(abortReason(signal));
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.tiers[tier].push(waiter);
      this.queued++;
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.nextWaiter();
      if (next === undefined) {
        this.active--;
        return;
      }
      // The slot passes straight to the next waiter: `active` is unchanged.
      this.dequeue(next);
      next.resolve(this.releaser());
    };
  }

  private nextWaiter(): Waiter | undefined {
    return this.tiers[0].head ?? this.tiers[1].head ?? this.tiers[2].head;
  }

  private lowestWaiter(): Waiter | undefined {
    return this.tiers[2].tail ?? this.tiers[1].tail ?? this.tiers[0].tail;
  }

  private dequeue(waiter: Waiter): void {
    if (!waiter.queued) return;
    waiter.queued = false;
    this.tiers[waiter.tier].remove(waiter);
    this.queued--;
    if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener("abort", waiter.onAbort);
  }

  private shed(): GatewayError {
    return new GatewayError("The deployment is at capacity; lower-priority requests are being shed. Retry shortly.", {
      status: 429,
      type: "rate_limit_error",
      code: "overloaded_shed",
      headers: { "retry-after": String(this.retryAfterSec) },
    });
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}
