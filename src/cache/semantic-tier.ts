import { createHash } from "node:crypto";
import type { ChatCompletionRequest } from "../openai/schema.js";
import { dot, type Embedder, NgramEmbedder, SemanticCache } from "./semantic/index.js";

/** Two answers agree when their texts are this similar (or equal): what a verification counts as correct. */
const SAME_ANSWER_SIMILARITY = 0.95;

export interface SemanticTierOptions {
  threshold: number;
  verifyShare: number;
  errorRate: number;
}

/**
 * The semantic tier beside the exact one: which requests may share answers (the same tenant, alias, system
 * prompt and tools), what text is compared (the conversation without its system prompt), and whether a verified
 * answer agreed with the cached one. The cache itself (embedder, index, guards, error bound) is SemanticCache.
 */
export class SemanticTier {
  readonly cache: SemanticCache;
  private readonly embedder: Embedder;

  constructor(options: SemanticTierOptions) {
    this.embedder = new NgramEmbedder();
    this.cache = new SemanticCache({
      embedder: this.embedder,
      similarityThreshold: options.threshold,
      verifyShare: options.verifyShare,
      errorBound: { delta: options.errorRate },
    });
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
