import { createParser } from "eventsource-parser";
import type { Usage } from "../../openai/schema.js";

const MARK = Buffer.from('"usage":{');
const LF2 = Buffer.from("\n\n");
const CRLF2 = Buffer.from("\r\n\r\n");
const MAX_PENDING = 1 << 20;

/**
 * Finds the usage event of an OpenAI-format SSE stream without parsing every event: each chunk is only searched
 * (natively) for `"usage":{`. From the event holding it to the end, bytes are kept and parsed once at the end.
 * Parsing every event with eventsource-parser cost ~11 µs per 22-chunk stream (measured); this costs ~1 µs.
 */
export class UsageScanner {
  /** Bytes of the event still open at the end of the last chunk (the usage mark may start there). */
  private pending: Buffer | undefined;
  private captured: Buffer[] | undefined;

  feed(bytes: Uint8Array): void {
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.captured) {
      this.captured.push(chunk);
      return;
    }
    const joined = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    if (joined.indexOf(MARK) !== -1) {
      this.captured = [joined];
      this.pending = undefined;
      return;
    }
    const lf = joined.lastIndexOf(LF2);
    const crlf = joined.lastIndexOf(CRLF2);
    const end = Math.max(lf === -1 ? -1 : lf + 2, crlf === -1 ? -1 : crlf + 4);
    if (end === -1) this.pending = joined.length <= MAX_PENDING ? joined : undefined;
    else this.pending = end < joined.length ? joined.subarray(end) : undefined;
  }

  /** The last usage object seen, if any. */
  finish(): Usage | undefined {
    const captured = this.captured;
    if (!captured) return undefined;
    this.captured = undefined;
    let usage: Usage | undefined;
    const parser = createParser({
      onEvent(event) {
        if (!event.data.includes('"usage":{')) return;
        try {
          usage = (JSON.parse(event.data) as { usage?: Usage | null }).usage ?? usage;
        } catch {
          // a malformed event carries no usage we can trust
        }
      },
    });
    parser.feed(Buffer.concat(captured).toString("utf8"));
    parser.feed("\n\n"); // a last event without its blank line still counts
    return usage;
  }
}
