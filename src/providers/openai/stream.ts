import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { GatewayError } from "../../errors.js";
import type { Usage } from "../../openai/schema.js";
import { sseErrorFrame } from "../../openai/sse.js";
import type { UpstreamObserver } from "../types.js";

type UpstreamBody = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };

const USAGE_MARK = '"usage":{';

/**
 * Relays an OpenAI-format SSE body byte for byte, as each chunk arrives. Events are parsed only to read
 * usage, never re-serialised. A failure after the first byte becomes a final `event: error` frame.
 */
export function relayOpenAIStream(
  body: UpstreamBody,
  observer: UpstreamObserver,
  toGatewayError: (err: unknown) => GatewayError,
): ReadableStream<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  const decoder = new TextDecoder();
  const parser = createParser({ onEvent: (event) => readUsage(event, observer) });
  let first = true;
  let ended = false;
  const end = (outcome: "completed" | "upstream_error" | "client_abort", error?: GatewayError) => {
    if (ended) return;
    ended = true;
    observer.onStreamEnd(outcome, error);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await chunks.next();
        if (done) {
          end("completed");
          controller.close();
          return;
        }
        if (first) {
          first = false;
          observer.onFirstByte();
        }
        controller.enqueue(value);
        parser.feed(decoder.decode(value, { stream: true }));
      } catch (err) {
        if (ended) return;
        const error = toGatewayError(err);
        end("upstream_error", error);
        controller.enqueue(sseErrorFrame(error));
        controller.close();
      }
    },
    cancel() {
      end("client_abort");
      body.destroy(); // closes the upstream connection: the provider stops generating (and billing)
    },
  });
}

function readUsage(event: EventSourceMessage, observer: UpstreamObserver): void {
  if (!event.data.includes(USAGE_MARK)) return;
  try {
    const usage = (JSON.parse(event.data) as { usage?: Usage | null }).usage;
    if (usage) observer.onUsage(usage);
  } catch {
    // a malformed event is the client's to see; it carries no usage we can trust
  }
}
