import { createHash } from "node:crypto";
import type { ChatCompletionRequest } from "../openai/schema.js";
import type { CacheEntry } from "./entry.js";
import type { PersistedSemanticEntries } from "./persisted.js";
import { dot, type Embedder, NgramEmbedder, SemanticCache } from "./semantic/index.js";

/** Two answers agree when their texts are this similar (or equal): what a verification counts as correct. */
const SAME_ANSWER_SIMILARITY = 0.95;

export interface SemanticTierOptions {
  threshold: number;
  verifyShare: number;
  errorRate: number;
  /** Where entries are kept across restarts (the SQL store); without it the index starts empty. */
  persisted?: PersistedSemanticEntries;
  /** Default: the in-process n-gram embedder. */
  embedder?: Embedder;
  hnswAt?: number;
  maxEntries?: number;
}

/** What restore() puts answers back into: the exact tier's store. */
interface AnswerStore {
  get(key: string): Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry, ttlMs: number): Promise<void>;
}

/**
 * The semantic tier beside the exact one: which requests may share answers (the same tenant, alias, system
 * prompt and tools), what text is compared (the conversation without its system prompt), and whether a verified
 * answer agreed with the cached one. The cache itself (embedder, index, guards, error bound) is SemanticCache.
 */
export class SemanticTier {
  readonly cache: SemanticCache;
  private readonly embedder: Embedder;
  private readonly persisted: PersistedSemanticEntries | undefined;

  constructor(options: SemanticTierOptions) {
    this.persisted = options.persisted;
    this.embedder = options.embedder ?? new NgramEmbedder();
    this.cache = new SemanticCache({
      embedder: this.embedder,
      similarityThreshold: options.threshold,
      verifyShare: options.verifyShare,
      errorBound: { delta: options.errorRate },
      ...(options.hnswAt !== undefined ? { hnswAt: options.hnswAt } : {}),
      ...(options.maxEntries !== undefined ? { maxEntriesPerNamespace: options.maxEntries } : {}),
    });
  }

  /** An answer joins the index (and the persisted entries). */
  remember(
    namespace: string,
    prompt: string,
    prepared: Parameters<SemanticCache["storePrepared"]>[1],
    key: string,
    entry: CacheEntry,
  ): void {
    this.cache.storePrepared(namespace, prepared, key);
    this.persisted?.save({ key, namespace, prompt, entry }).catch(() => undefined); // the answer is still served
  }

  /** At start: the persisted entries back into the index, and their answers into the exact store if it lost them. */
  async restore(answers: AnswerStore, now = Date.now()): Promise<number> {
    if (this.persisted === undefined) return 0;
    let restored = 0;
    for (const row of await this.persisted.load(now)) {
      if ((await answers.get(row.key)) === undefined) await answers.set(row.key, row.entry, row.entry.expiresAt - now);
      this.cache.storePrepared(row.namespace, await this.cache.prepare(row.prompt), row.key);
      restored++;
    }
    return restored;
  }

  /** Different instructions or tools never share answers. */
  namespace(tenant: string, alias: string, chat: ChatCompletionRequest): string {
    const system: unknown[] = [];
    for (const m of chat.messages) if (m.role === "system" || m.role === "developer") system.push(m.content);
    const hash = createHash("sha256")
      .update(JSON.stringify([system, chat.tools ?? null]))
      .digest("hex")
      .slice(0, 16);
    return `${tenant}|${alias}|${hash}`;
  }

  /** The conversation as compared: every message but the system prompt, role-tagged. */
  promptText(chat: ChatCompletionRequest): string {
    let text = "";
    for (const m of chat.messages) {
      if (m.role === "system" || m.role === "developer") continue;
      const content = m.content;
      const body =
        typeof content === "string"
          ? content
          : Array.isArray(content)
            ? content.map((p) => (typeof p === "object" && p !== null && "text" in p ? String(p.text) : "")).join(" ")
            : "";
      text += `${text ? "\n" : ""}${m.role}: ${body}`;
    }
    return text;
  }

  /** Whether a fresh upstream answer agrees with the cached one (texts equal, or nearly so). */
  async sameAnswer(cachedBody: string, freshBody: string): Promise<boolean> {
    const a = answerText(cachedBody);
    const b = answerText(freshBody);
    if (a === b) return true;
    const [va, vb] = await Promise.all([this.embedder.embed(a), this.embedder.embed(b)]);
    return dot(va, vb) >= SAME_ANSWER_SIMILARITY;
  }
}

function answerText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { choices?: { message?: { content?: unknown; tool_calls?: unknown } }[] };
    const message = parsed.choices?.[0]?.message;
    return `${typeof message?.content === "string" ? message.content.trim() : ""}${JSON.stringify(message?.tool_calls ?? "")}`;
  } catch {
    return body;
  }
}
