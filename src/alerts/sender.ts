import { type AlertEvent, type AlertFormat, alertBody, alertId, signAlert } from "./format.js";

export interface AlertTarget {
  url: string;
  format: AlertFormat;
  /** Signs each delivery (x-tollgate-signature); optional because Slack's incoming webhooks do not check one. */
  secret?: string;
}

export interface DeliveryResult {
  url: string;
  id: string;
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
  /** "dropped": the queue was full or the sender closed before it could deliver. */
  dropped?: boolean;
}

export interface AlertSenderOptions {
  targets: readonly AlertTarget[];
  /** Attempts per delivery, the first included. */
  maxAttempts?: number;
  /** Backoff before attempt n+1: base * 2^(n-1), capped, with jitter (50-100% of it). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt. */
  timeoutMs?: number;
  /** Deliveries queued or in flight; past it new ones are dropped (and reported). */
  maxPending?: number;
  /** How many alert ids are remembered for deduplication (oldest forgotten first). */
  maxRemembered?: number;
  /**
   * Deduplication across replicas: resolve true when this replica is the first to claim the id (e.g. Redis
   * SET NX with the period's TTL). Without it deduplication is per process. A failing claim sends anyway.
   */
  claim?: (id: string) => boolean | Promise<boolean>;
  /** Each delivery's outcome, for logs and metrics. */
  onResult?: (result: DeliveryResult) => void;
}

/**
 * Budget alert webhooks off the request path: send() only remembers and enqueues; deliveries run in the
 * background with retries (network errors, 429 and 5xx; exponential backoff with jitter, bounded attempts).
 * Each alert goes out once per (scope, period, threshold, kind), to every target.
 */
export class AlertSender {
  private readonly targets: readonly AlertTarget[];
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly maxRemembered: number;
  private readonly claim: AlertSenderOptions["claim"];
  private readonly onResult: AlertSenderOptions["onResult"];
  // Insertion-ordered, so the oldest ids are forgotten first.
  private readonly seen = new Set<string>();
  private readonly stopping = new AbortController();
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private closed = false;

  constructor(options: AlertSenderOptions) {
    this.targets = options.targets;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxPending = options.maxPending ?? 1_000;
    this.maxRemembered = options.maxRemembered ?? 10_000;
    this.claim = options.claim;
    this.onResult = options.onResult;
  }

  /** Deliveries queued, waiting to retry or in flight. */
  get pending(): number {
    return this.inFlight;
  }

  /** Never throws and never waits: the delivery happens in the background. */
  send(event: AlertEvent): void {
    try {
      if (this.closed || this.targets.length === 0) return;
      const id = alertId(event);
      if (this.seen.has(id)) return;
      this.seen.add(id);
      if (this.seen.size > this.maxRemembered) {
        const oldest = this.seen.values().next().value;
        if (oldest !== undefined) this.seen.delete(oldest);
      }
      if (this.claim === undefined) {
        this.enqueue(id, event);
        return;
      }
      const claim = this.claim;
      this.track(
        Promise.resolve()
          .then(() => claim(id))
          .catch(() => true)
          .then((first) => {
            if (first) this.enqueue(id, event);
          }),
      );
    } catch {
      // An alert must never break the request that triggered it.
    }
  }

  /**
   * Stops accepting alerts and waits for pending deliveries (retries included) up to `deadlineMs`; what is still
   * pending then is abandoned. Resolves with the number abandoned.
   */
  async close(deadlineMs = 5_000): Promise<number> {
    this.closed = true;
    if (this.inFlight === 0) return 0;
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, deadlineMs, true);
      }),
    ]);
    clearTimeout(timer);
    if (!late) return 0;
    const abandoned = this.inFlight;
    this.stopping.abort();
    await drained;
    return abandoned;
  }

  private enqueue(id: string, event: AlertEvent): void {
    for (const target of this.targets) {
      if (this.inFlight >= this.maxPending) {
        this.report({ url: target.url, id, ok: false, attempts: 0, dropped: true, error: "alert queue full" });
        continue;
      }
      this.track(this.deliver(target, id, alertBody(event, target.format)));
    }
  }

  private track(task: Promise<unknown>): void {
    this.inFlight++;
    task
      .catch(() => undefined)
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) this.idle?.();
      });
  }

  private async deliver(target: AlertTarget, id: string, body: string): Promise<void> {
    let status: number | undefined;
    let error: string | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1 && !(await this.backoff(attempt - 1))) {
        this.report({ url: target.url, id, ok: false, attempts: attempt - 1, dropped: true, error: "sender closed" });
        return;
      }
      // Re-signed per attempt: receivers reject stale timestamps.
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "user-agent": "tollgate-alerts",
        "x-tollgate-event-id": id,
        "x-tollgate-timestamp": timestamp,
      };
      if (target.secret) headers["x-tollgate-signature"] = signAlert(target.secret, timestamp, body);
      try {
        const response = await fetch(target.url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.stopping.signal]),
        });
        status = response.status;
        error = undefined;
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) {
          this.report({ url: target.url, id, ok: true, attempts: attempt, status });
          return;
        }
        if (status !== 429 && status < 500) {
          this.report({ url: target.url, id, ok: false, attempts: attempt, status });
          return;
        }
      } catch (err) {
        status = undefined;
        error = err instanceof Error ? err.message : String(err);
      }
      if (this.stopping.signal.aborted) {
        this.report({ url: target.url, id, ok: false, attempts: attempt, dropped: true, error: "sender closed" });
        return;
      }
    }
    // Every attempt failed.
    this.report({ url: target.url, id, ok: false, attempts: this.maxAttempts, status, error });
  }

  /** Sleeps before the next attempt; false when the sender is closing past its deadline. */
  private backoff(retry: number): Promise<boolean> {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (retry - 1));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    const stopping = this.stopping.signal;
    if (stopping.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onStop = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        stopping.removeEventListener("abort", onStop);
        resolve(true);
      }, delay);
      timer.unref();
      stopping.addEventListener("abort", onStop, { once: true });
    });
  }

  private report(result: DeliveryResult): void {
    try {
      this.onResult?.(result);
    } catch {
      // A failing observer must not stop deliveries.
    }
  }
}
