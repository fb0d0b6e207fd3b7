import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import {
  type HealthEntry,
  type HealthEvent,
  type HealthListener,
  type HealthStore,
  MemoryHealthStore,
} from "./health.js";
import { closeRedisClient, createRedisClient } from "./redis.js";

export interface RedisHealthStoreOptions {
  /** redis://host:port/db */
  url: string;
  /** Namespaces keys and the channel; tests use a unique one per run. */
  prefix?: string;
  now?: () => number;
  /** A command slower than this is given up on (the hint is dropped, never retried). */
  commandTimeoutMs?: number;
}

const noop = () => {};

/**
 * Health hints in Redis: one key per open breaker or cooldown, holding its end time and expiring then (PX),
 * so a late joiner loads what is still in force; and a pub/sub channel, so every replica hears of it at
 * once. Two connections, because a subscribed connection cannot run commands. While Redis is down every
 * call is a quiet no-op (no offline queue, no logging) and each replica keeps its own view.
 */
export class RedisHealthStore implements HealthStore {
  private readonly origin = randomUUID();
  private readonly listeners = new Set<{ listener: HealthListener; onResync: (() => void) | undefined }>();
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly now: () => number;
  private connectedOnce = false;
  private subscribed: Promise<void> | undefined;

  private constructor(options: RedisHealthStoreOptions) {
    this.prefix = `${options.prefix ?? "tollgate"}:health`;
    this.channel = `${this.prefix}:events`;
    this.now = options.now ?? Date.now;
    this.cmd = createRedisClient(options.url, { lazyConnect: true, commandTimeout: options.commandTimeoutMs ?? 500 });
    this.sub = createRedisClient(options.url, { lazyConnect: true });
    // Errors surface as no-ops per call; without listeners ioredis would print every failed reconnect.
    this.cmd.on("error", noop);
    this.sub.on("error", noop);
    this.sub.on("message", (_channel: string, message: string) => this.receive(message));
    this.sub.on("ready", () => this.subscriberReady());
  }

  /** Connects and subscribes; with Redis down it returns after the first failed attempt and keeps reconnecting. */
  static async connect(options: RedisHealthStoreOptions): Promise<RedisHealthStore> {
    const store = new RedisHealthStore(options);
    await Promise.all([store.cmd.connect().catch(noop), store.sub.connect().catch(noop)]);
    await store.subscribed;
    return store;
  }

  publishOpen(id: string, untilMs: number): Promise<void> {
    return this.write(this.key("open", id), untilMs, { kind: "open", id, untilMs });
  }

  async publishClosed(id: string): Promise<void> {
    if (this.cmd.status !== "ready") return;
    try {
      await this.cmd
        .multi()
        .del(this.key("open", id))
        .publish(this.channel, this.message({ kind: "closed", id }))
        .exec();
    } catch {
      // The key expires by itself; other replicas' overlays end at the same time.
    }
  }

  publishCooldown(id: string, untilMs: number): Promise<void> {
    return this.write(this.key("cooldown", id), untilMs, { kind: "cooldown", id, untilMs });
  }

  subscribe(listener: HealthListener, onResync?: () => void): () => void {
    const entry = { listener, onResync };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  async snapshot(): Promise<HealthEntry[]> {
    if (this.cmd.status !== "ready") return [];
    try {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await this.cmd.scan(cursor, "MATCH", `${this.prefix}:*:*`, "COUNT", 500);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
      if (keys.length === 0) return [];
      const values = await this.cmd.mget(keys);
      return toEntries(keys, values, this.prefix, this.now());
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.sub.disconnect();
    await closeRedisClient(this.cmd);
  }

  private async write(key: string, untilMs: number, event: HealthEvent): Promise<void> {
    const ttlMs = Math.ceil(untilMs - this.now());
    if (ttlMs <= 0 || this.cmd.status !== "ready") return;
    try {
      await this.cmd.multi().set(key, String(untilMs), "PX", ttlMs).publish(this.channel, this.message(event)).exec();
    } catch {
      // A lost hint: other replicas find out through their own breakers.
    }
  }

  private subscriberReady(): void {
    // Events published while we were disconnected are lost: listeners reload the snapshot instead.
    if (this.connectedOnce) for (const { onResync } of this.listeners) onResync?.();
    this.connectedOnce = true;
    // ioredis re-subscribes by itself after a reconnect; only the first subscription is ours to make.
    this.subscribed ??= this.sub.subscribe(this.channel).then(noop, () => {
      this.subscribed = undefined;
    });
  }

  private receive(message: string): void {
    let parsed: { origin?: unknown; event?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.origin === this.origin || !isHealthEvent(parsed.event)) return;
    for (const { listener } of this.listeners) listener(parsed.event);
  }

  private message(event: HealthEvent): string {
    return JSON.stringify({ origin: this.origin, event });
  }

  private key(kind: "open" | "cooldown", id: string): string {
    return `${this.prefix}:${kind}:${id}`;
  }
}

function toEntries(keys: string[], values: (string | null)[], prefix: string, now: number): HealthEntry[] {
  const byId = new Map<string, HealthEntry>();
  keys.forEach((key, i) => {
    const until = Number(values[i]);
    if (!(until > now)) return;
    const rest = key.slice(prefix.length + 1);
    const colon = rest.indexOf(":");
    const kind = rest.slice(0, colon);
    const id = rest.slice(colon + 1);
    const entry = byId.get(id) ?? { id };
    if (kind === "open") entry.openUntil = until;
    else if (kind === "cooldown") entry.cooldownUntil = until;
    else return;
    byId.set(id, entry);
  });
  return [...byId.values()];
}

function isHealthEvent(value: unknown): value is HealthEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  if (typeof e.id !== "string") return false;
  if (e.kind === "closed") return true;
  return (e.kind === "open" || e.kind === "cooldown") && typeof e.untilMs === "number";
}

/** Memory without a URL (one replica); Redis with one. */
export async function createHealthStore(
  redisUrl: string | undefined,
  options: Omit<RedisHealthStoreOptions, "url"> = {},
): Promise<HealthStore> {
  return redisUrl ? RedisHealthStore.connect({ ...options, url: redisUrl }) : new MemoryHealthStore(options.now);
}
