import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";

/** What changed, so every replica drops what it cached of it. Never carries a secret or a hash. */
export type ChangeEvent =
  | { kind: "key"; id: string }
  /** Keys were created or declared: drop cached "unknown key" answers. */
  | { kind: "keys" }
  | { kind: "budgets" };

export type ChangeListener = (event: ChangeEvent) => void;

/**
 * Delivers change events to this process's listeners at once, and to every other replica through Redis pub/sub
 * when a Redis URL is given. Events are hints to drop caches: a lost one costs freshness, never correctness of
 * the store, and after a Redis reconnect listeners get `resync` so they drop everything.
 */
export interface ChangeBus {
  publish(event: ChangeEvent): Promise<void>;
  subscribe(listener: ChangeListener, onResync?: () => void): () => void;
  close(): Promise<void>;
}

export const CHANGES_CHANNEL = "tollgate:changes";

export class LocalChangeBus implements ChangeBus {
  protected readonly listeners = new Set<{ listener: ChangeListener; onResync: (() => void) | undefined }>();

  async publish(event: ChangeEvent): Promise<void> {
    this.deliver(event);
  }

  subscribe(listener: ChangeListener, onResync?: () => void): () => void {
    const entry = { listener, onResync };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  protected deliver(event: ChangeEvent): void {
    for (const { listener } of this.listeners) listener(event);
  }

  protected resync(): void {
    for (const { onResync } of this.listeners) onResync?.();
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export interface RedisChangeBusOptions {
  channel?: string;
  /** Redis errors (a restarted server); without it they are ignored and ioredis reconnects. */
  onError?: (err: Error) => void;
}

/** Two connections: a subscriber cannot publish. Our own events come back from Redis and are skipped by origin. */
export class RedisChangeBus extends LocalChangeBus {
  private readonly origin = randomUUID();
  private readonly channel: string;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private connectedOnce = false;
  private subscribed = false;

  private constructor(url: string, options: RedisChangeBusOptions) {
    super();
    this.channel = options.channel ?? CHANGES_CHANNEL;
    const report = (err: Error) => options.onError?.(err);
    this.pub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    this.sub = new Redis(url, { lazyConnect: true });
    this.pub.on("error", report);
    this.sub.on("error", report);
    this.sub.on("message", (_channel: string, message: string) => this.receive(message));
    this.sub.on("ready", () => {
      // Events published while we were disconnected are lost: forget everything cached instead.
      if (this.connectedOnce) this.resync();
      this.connectedOnce = true;
      if (!this.subscribed) {
        this.sub.subscribe(this.channel).then(() => {
          this.subscribed = true;
        }, report);
      }
    });
  }

  /** Connects and subscribes; with Redis down it still returns, and subscribes once Redis is reachable. */
  static async connect(url: string, options: RedisChangeBusOptions = {}): Promise<RedisChangeBus> {
    const bus = new RedisChangeBus(url, options);
    try {
      await Promise.all([bus.pub.connect(), bus.sub.connect()]);
      await bus.sub.subscribe(bus.channel);
      bus.subscribed = true;
    } catch (err) {
      options.onError?.(err as Error); // ioredis keeps reconnecting; the "ready" handler subscribes then
    }
    return bus;
  }

  override async publish(event: ChangeEvent): Promise<void> {
    this.deliver(event);
    try {
      await this.pub.publish(this.channel, JSON.stringify({ origin: this.origin, event }));
    } catch {
      // Other replicas pick the change up when their cache entry expires (KeyService cacheTtlMs).
    }
  }

  private receive(message: string): void {
    let parsed: { origin?: string; event?: ChangeEvent };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.origin === this.origin || parsed.event === undefined) return;
    this.deliver(parsed.event);
  }

  override async close(): Promise<void> {
    await super.close();
    this.sub.disconnect();
    this.pub.disconnect();
  }
}

/** Local only without a URL; Redis pub/sub across replicas with one. */
export async function createChangeBus(redisUrl?: string, options: RedisChangeBusOptions = {}): Promise<ChangeBus> {
  return redisUrl ? RedisChangeBus.connect(redisUrl, options) : new LocalChangeBus();
}
