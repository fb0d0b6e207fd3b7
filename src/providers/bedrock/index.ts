import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  ConverseStreamCommand,
  type ConverseStreamCommandOutput,
} from "@aws-sdk/client-bedrock-runtime";
import type { ProviderConfig, Timeouts } from "../../config/schema.js";
import { answerHeaders } from "../http.js";
import { checkParameters } from "../params.js";
import type { AbortSignalLike, ChatCall, ProviderClient, ProviderFactory, UpstreamResult } from "../types.js";
import { SignedConverse } from "./converse.js";
import { badAnswer, bedrockError } from "./errors.js";
import { UndiciHttpHandler } from "./handler.js";
import { PARAMETERS } from "./params.js";
import { buildRequest } from "./request.js";
import { chatId, toChatCompletion } from "./response.js";
import { BedrockRelay, BedrockStreamTranslator } from "./stream.js";

export { PARAMETERS } from "./params.js";

/** Bedrock's Converse API behind OpenAI's chat completions, through the AWS SDK (SigV4, binary event stream). */
class BedrockClient implements ProviderClient {
  readonly type = "bedrock" as const;
  private readonly client: BedrockRuntimeClient;
  private readonly converse: SignedConverse;

  constructor(
    readonly name: string,
    config: ProviderConfig,
    timeouts: Timeouts,
  ) {
    const aws = config.aws;
    const handler = new UndiciHttpHandler(config, timeouts);
    this.client = new BedrockRuntimeClient({
      region: config.region,
      ...(config.base_url ? { endpoint: config.base_url } : {}),
      ...(aws
        ? {
            credentials: {
              accessKeyId: aws.access_key_id,
              secretAccessKey: aws.secret_access_key,
              ...(aws.session_token ? { sessionToken: aws.session_token } : {}),
            },
          }
        : {}),
      // The gateway retries and fails over itself; the SDK's own retries would hide that and multiply latency.
      maxAttempts: 1,
      requestHandler: handler as unknown as BedrockRuntimeClientConfig["requestHandler"],
    });
    const region = config.region as string; // the schema requires it for bedrock
    const endpoint = config.base_url ?? `https://bedrock-runtime.${region}.amazonaws.com`;
    const resolved = this.client.config;
    this.converse = new SignedConverse(
      name,
      handler.poolFor(new URL(endpoint).origin),
      endpoint,
      region,
      resolved.credentials,
      resolved.sha256,
      config.headers,
    );
    const extra = config.headers;
    if (Object.keys(extra).length) {
      this.client.middlewareStack.add(
        (next) => (args) => {
          const req = args.request as { headers?: Record<string, string> };
          if (req.headers) Object.assign(req.headers, extra);
          return next(args);
        },
        { step: "build", name: "tollgateHeaders" },
      );
    }
  }

  async chat(call: ChatCall): Promise<UpstreamResult> {
    const warning = checkParameters(call.request, PARAMETERS, "bedrock"); // a rejected field throws here
    const input = buildRequest(call.request, call.upstreamModel);
    if (call.stream) {
      const link = linkAbort(call.signal);
      const toError = (err: unknown) => bedrockError(this.name, err);
      let out: ConverseStreamCommandOutput;
      try {
        out = await this.client.send(new ConverseStreamCommand(input), { abortSignal: link.controller.signal });
      } catch (err) {
        link.unlink();
        throw toError(err);
      }
      call.observer.onFirstByte();
      const events = out.stream;
      if (!events) {
        link.unlink();
        throw badAnswer(this.name, "a stream was asked for, none came");
      }
      const id = chatId(out.$metadata.requestId, call.requestId);
      const translator = new BedrockStreamTranslator(id, call.upstreamModel);
      const includeUsage = call.request.stream_options?.include_usage === true;
      const abort = () => link.controller.abort();
      const relay = new BedrockRelay(events, translator, call.observer, includeUsage, toError, abort, link.unlink);
      return { status: 200, body: relay, stream: true, headers: answerHeaders({}, warning) };
    }
    const { output: out, requestId } = await this.converse.send(
      input,
      mayHoldImages(call.rawBody),
      call.signal,
      call.observer,
    );
    if (!out.output?.message) throw badAnswer(this.name, "an answer without a message");
    const id = chatId(requestId, call.requestId);
    const created = Math.floor(Date.now() / 1000);
    const { completion, usage } = toChatCompletion(out, id, call.upstreamModel, created);
    call.observer.onUsage(usage);
    return { status: 200, body: JSON.stringify(completion), stream: false, headers: answerHeaders({}, warning) };
  }

  close(): Promise<void> {
    this.client.destroy(); // closes the kept-alive sockets
    return Promise.resolve();
  }
}

/** An image part needs its key spelt out in the client's JSON (or hidden behind a \u escape). */
function mayHoldImages(rawBody: string): boolean {
  return rawBody.includes('"image_url"') || rawBody.includes("\\u");
}

/**
 * The SDK takes an AbortSignal only, while the server may hand over an EventEmitter that emits "abort": an
 * AbortController follows either, and is also how a cancelled stream stops the upstream.
 */
function linkAbort(signal: AbortSignalLike | undefined): { controller: AbortController; unlink: () => void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (signal === undefined) return { controller, unlink: () => {} };
  if ("addEventListener" in signal) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener("abort", abort, { once: true });
    return { controller, unlink: () => signal.removeEventListener("abort", abort) };
  }
  signal.once("abort", abort);
  return { controller, unlink: () => signal.removeListener("abort", abort) };
}

export const bedrockProvider: ProviderFactory = {
  create: (name, config, timeouts) => new BedrockClient(name, config, timeouts),
};
