import type { ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { EventStreamCodec, type MessageHeaders } from "@smithy/core/event-streams";
import type { NativeEventReader } from "../translate.js";

/** A ConverseStream event as the SDK types it, or an exception the stream carried instead of one. */
export type BedrockEvent = ConverseStreamOutput & { exception?: { name: string; message: string } };

const toUtf8 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
const fromUtf8 = (text: string) => Buffer.from(text, "utf8");
const decoder = new TextDecoder();

/**
 * AWS's binary event stream (application/vnd.amazon.eventstream): each message is prefixed by its total
 * length, so bytes are gathered until a message is whole; the SDK's codec checks its CRCs and parses its
 * headers. `:message-type` tells events (`:event-type` names the ConverseStream member) from exceptions.
 */
export class BedrockEventReader implements NativeEventReader<BedrockEvent> {
  private readonly codec = new EventStreamCodec(toUtf8, fromUtf8);
  private pending: Buffer | undefined;

  feed(chunk: Uint8Array, onEvent: (event: BedrockEvent) => void): void {
    let buf = this.pending
      ? Buffer.concat([this.pending, chunk])
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (buf.length >= 4) {
      const length = buf.readUInt32BE(0);
      if (buf.length < length) break;
      onEvent(this.toEvent(buf.subarray(0, length)));
      buf = buf.subarray(length);
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined; // copied: the chunk's memory is not ours to keep
  }

  private toEvent(frame: Uint8Array): BedrockEvent {
    const { headers, body } = this.codec.decode(frame);
    const kind = text(headers, ":message-type");
    const payload = body.byteLength ? (JSON.parse(decoder.decode(body)) as Record<string, unknown>) : {};
    if (kind === "event") return { [text(headers, ":event-type") ?? "unknown"]: payload } as unknown as BedrockEvent;
    // "exception" carries a modelled error; "error" an unmodelled one, named in :error-code.
    const name = text(headers, ":exception-type") ?? text(headers, ":error-code") ?? "InternalServerException";
    const message = (payload.message ?? payload.Message ?? text(headers, ":error-message") ?? "") as string;
    return { exception: { name, message } } as BedrockEvent;
  }
}

function text(headers: MessageHeaders, name: string): string | undefined {
  const h = headers[name];
  return h?.type === "string" ? h.value : undefined;
}
