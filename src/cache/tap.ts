import type { RelayStream } from "../providers/types.js";

/** Past this many bytes a stream is relayed untouched and not stored (an answer that big is not worth holding). */
const MAX_TAPPED_BYTES = 1024 * 1024;

/**
 * Relays a stream exactly as it is and keeps a copy of the bytes the client got, so the answer can be stored
 * once the stream ends well. Only cacheable requests pay for it; the plain relay stays byte-for-byte.
 */
export class TappedStream implements RelayStream {
  readonly chunks: RelayStream["chunks"];
  private readonly parts: Uint8Array[] = [];
  private bytes = 0;
  private overflow = false;

  /** `ended` gets the whole SSE text once the stream ended well (not cut, not too big). */
  constructor(
    private readonly inner: RelayStream,
    private readonly ended: (sse: string) => void,
  ) {
    this.chunks = inner.chunks;
  }

  onChunk(chunk: Uint8Array): Uint8Array | undefined {
    const out = this.inner.onChunk(chunk);
    if (out !== undefined) this.keep(out);
    return out;
  }

  onEnd(): Uint8Array | undefined {
    const out = this.inner.onEnd();
    if (out !== undefined) this.keep(out);
    // After the tail is kept: the inner relay's onEnd ends the request, before its last bytes come back here.
    if (!this.overflow) this.ended(Buffer.concat(this.parts).toString("utf8"));
    return out;
  }

  onError(err: unknown): Uint8Array {
    this.overflow = true; // a cut stream is never stored
    return this.inner.onError(err);
  }

  cancel(): void {
    this.overflow = true;
    this.inner.cancel();
  }

  private keep(bytes: Uint8Array): void {
    if (this.overflow) return;
    this.bytes += bytes.byteLength;
    if (this.bytes > MAX_TAPPED_BYTES) {
      this.overflow = true;
      this.parts.length = 0;
      return;
    }
    this.parts.push(bytes);
  }
}

/** A cached answer replayed as a stream: one write of the whole SSE text, then the request is over. */
export class ReplayStream implements RelayStream {
  readonly chunks: Uint8Array[];

  constructor(
    sse: string,
    private readonly ended: (outcome: "completed" | "client_abort") => void,
  ) {
    this.chunks = [Buffer.from(sse, "utf8")];
  }

  onChunk(chunk: Uint8Array): Uint8Array {
    return chunk;
  }

  onEnd(): undefined {
    this.ended("completed");
    return undefined;
  }

  onError(): Uint8Array {
    this.ended("client_abort");
    return new Uint8Array(0);
  }

  cancel(): void {
    this.ended("client_abort");
  }
}
