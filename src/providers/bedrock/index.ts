import { BedrockRuntimeClient, type ConverseCommandOutput } from "@aws-sdk/client-bedrock-runtime";
import type { ProviderConfig, Timeouts } from "../../config/schema.js";
import { answerHeaders, createPool } from "../http.js";
import { checkParameters } from "../params.js";
import { TranslatingRelay } from "../translate.js";
import type { ChatCall, ProviderClient, ProviderFactory, UpstreamResult } from "../types.js";
import { BedrockTransport, header } from "./converse.js";
import { badAnswer, bedrockError } from "./errors.js";
import { BedrockEventReader } from "./eventstream.js";
import { PARAMETERS } from "./params.js";
import { buildRequest } from "./request.js";
import { chatId, toChatCompletion } from "./response.js";
import { BedrockStreamTranslator } from "./stream.js";

export { PARAMETERS } from "./params.js";

/**
 * Bedrock's Converse API behind OpenAI's chat completions. The AWS SDK client resolves the credential chain
 * (config, environment, profile, SSO, instance role); calls go out signed on the gateway's own pool.
 */
class BedrockClient implements ProviderClient {
  readonly type = "bedrock" as const;
  private readonly transport: BedrockTransport;
  private readonly pool;
  private readonly toError: (err: unknown) => ReturnType<typeof bedrockError>;

  constructor(
    readonly name: string,
    config: ProviderConfig,
    timeouts: Timeouts,
  ) {
    const aws = config.aws;
    const region = config.region as string; // the schema requires it for bedrock
    const sdk = new BedrockRuntimeClient({
      region,
      ...(aws
        ? {
            credentials: {
              accessKeyId: aws.access_key_id,
              secretAccessKey: aws.secret_access_key,
              ...(aws.session_token ? { sessionToken: aws.session_token } : {}),
            },
          }
        : {}),
    });
    const endpoint = config.base_url ?? `https://bedrock-runtime.${region}.amazonaws.com`;
    this.pool = createPool(new URL(endpoint).origin, config, timeouts);
    // The chain is resolved on first use and cached by the SDK until the credentials near expiry.
    const credentials = sdk.config.credentials;
    this.transport = new BedrockTransport(name, this.pool, endpoint, region, credentials, config.headers);
    this.toError = (err) => bedrockError(name, err);
  }

  async chat(call: ChatCall): Promise<UpstreamResult> {
    const warning = checkParameters(call.request, PARAMETERS, "bedrock"); // a rejected field throws here
    const input = buildRequest(call.request, call.upstreamModel);
    const res = await this.transport.send(input, call.stream, mayHoldImages(call.rawBody), call);
    const requestId = header(res.headers["x-amzn-requestid"]);
    if (res.kind === "events") {
      const translator = new BedrockStreamTranslator(this.name, chatId(requestId, call.requestId), call.upstreamModel);
      const includeUsage = call.request.stream_options?.include_usage === true;
      const reader = new BedrockEventReader();
      const relay = new TranslatingRelay(res.body, reader, translator, call.observer, includeUsage, this.toError);
      return { status: 200, body: relay, stream: true, headers: answerHeaders({}, warning) };
    }
    if (call.stream) throw badAnswer(this.name, "a stream was asked for, another answer came");
    let out: ConverseCommandOutput;
    try {
      out = JSON.parse(res.body.toString()) as ConverseCommandOutput;
    } catch {
      throw badAnswer(this.name, `unreadable answer: ${res.body.toString().slice(0, 200)}`);
    }
    if (!out.output?.message) throw badAnswer(this.name, "an answer without a message");
    const created = Math.floor(Date.now() / 1000);
    const { completion, usage } = toChatCompletion(out, chatId(requestId, call.requestId), call.upstreamModel, created);
    call.observer.onUsage(usage);
    return { status: 200, body: JSON.stringify(completion), stream: false, headers: answerHeaders({}, warning) };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** An image part needs its key spelt out in the client's JSON (or hidden behind a \u escape). */
function mayHoldImages(rawBody: string): boolean {
  return rawBody.includes('"image_url"') || rawBody.includes("\\u");
}

export const bedrockProvider: ProviderFactory = {
  create: (name, config, timeouts) => new BedrockClient(name, config, timeouts),
};
