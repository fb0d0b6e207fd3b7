/**
 * Validated request bodies remembered by their raw text. The same bytes always validate to the same request, so
 * a repeated one (every exact cache hit is one) skips JSON.parse and the schema. What is remembered is shared by
 * every request that sends those bytes, so it is deep-frozen: a stage that wrote to it would throw, never leak
 * one request's change into another's. Bounded by characters; the oldest go first; a body that fails to parse
 * is never kept (its error is thrown again on each try).
 */
export class ParsedBodies<T extends object> {
  private readonly byText = new Map<string, T>();
  private chars = 0;

  constructor(
    private readonly parse: (text: string) => T,
    private readonly maxChars = 4_000_000,
    /** Longer bodies are parsed each time: the parse is small beside their upstream call, the memory is not. */
    private readonly maxBodyChars = 262_144,
  ) {}

  get(text: string): T {
    const known = this.byText.get(text);
    if (known !== undefined) return known;
    const parsed = deepFreeze(this.parse(text));
    if (text.length > this.maxBodyChars) return parsed;
    this.byText.set(text, parsed);
    this.chars += text.length;
    for (const oldest of this.byText.keys()) {
      if (this.chars <= this.maxChars) break;
      this.byText.delete(oldest);
      this.chars -= oldest.length;
    }
    return parsed;
  }

  get size(): number {
    return this.byText.size;
  }
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
