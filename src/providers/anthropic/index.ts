import type { Dispatcher, Pool } from "undici";
import type { ProviderConfig, Timeouts } from "../../config/schema.js";
import type { GatewayError } from "../../errors.js";
import { answerHeaders, createPool, sendUpstream, transportError } from "../http.js";
import { baseHeaders } from "../openai/index.js";
import { checkParameters } from "../params.js";
import { SseReader, TranslatingRelay } from "../translate.js";
import type { ChatCall, ProviderClient, ProviderFactory, UpstreamResult } from "../types.js";
import { anthropicHttpError, badAnswer } from "./errors.js";
import { PARAMETERS } from "./params.js";
import { buildRequest } from "./request.js";
import { type NativeMessageAnswer, toChatCompletion } from "./response.js";
import { AnthropicStreamTranslator } from "./stream.js";

export { PARAMETERS } from "./params.js";

const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
const ANTHROPIC_VERSION = "2023-06-01";

/** Anthropic's Messages API behind OpenAI's chat completions: requests, answers, streams and errors translated. */
class AnthropicClient implements ProviderClient {
  readonly type = "anthropic" as const;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly toError: (err: unknown) => GatewayError;

  constructor(
    readonly name: string,
    config: ProviderConfig,
    timeouts: Timeouts,
  ) {
    const url = new URL(config.base_url ?? ANTHROPIC_BASE_URL);
    const basePath = url.pathname.replace(/\/+$/, "");
    // base_url may be given with or without the version segment.
    this.path = `${basePath.endsWith("/v1") ? basePath : `${basePath}/v1`}/messages${url.search}`;
    // Configured headers may override anthropic-version (or add anthropic-beta); the key always wins.
    this.headers = { "anthropic-version": ANTHROPIC_VERSION, ...baseHeaders(config) };
    if (config.api_key) this.headers["x-api-key"] = config.api_key;
    this.pool = createPool(url.origin, config, timeouts);
    this.toError = (err) => transportError(name, err);
  }

  async chat(call: ChatCall): Promise<UpstreamResult> {
    const warning = checkParameters(call.request, PARAMETERS, "anthropic"); // a rejected field throws here
    const body = buildRequest(call.request, call.upstreamModel, call.stream);
    const options: Dispatcher.DispatchOptions = {
      path: this.path,
      method: "POST",
      headers: { ...this.headers, "x-request-id": call.requestId },
      body: JSON.stringify(body),
    };
    const res = await sendUpstream(this.pool, options, call, call.stream, this.toError);
    if (res.kind === "events") {
      const translator = new AnthropicStreamTranslator(this.name, call.upstreamModel);
      const includeUsage = call.request.stream_options?.include_usage === true;
      const relay = new TranslatingRelay(
        res.body,
        new SseReader(),
        translator,
        call.observer,
        includeUsage,
        this.toError,
      );
      return { status: 200, body: relay, stream: true, headers: answerHeaders(res.headers, warning) };
    }
    const text = res.body.toString("utf8");
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw anthropicHttpError(this.name, res.statusCode, text, res.headers);
    }
    if (call.stream) throw badAnswer(this.name, "a stream was asked for, another answer came");
    let answer: NativeMessageAnswer;
    try {
      answer = JSON.parse(text) as NativeMessageAnswer;
    } catch {
      throw badAnswer(this.name, `unreadable answer: ${text.slice(0, 200)}`);
    }
    if (!Array.isArray(answer?.content)) throw badAnswer(this.name, "an answer without content");
    const { completion, usage } = toChatCompletion(answer, Math.floor(Date.now() / 1000));
    call.observer.onUsage(usage);
    return {
      status: 200,
      body: JSON.stringify(completion),
      stream: false,
      headers: answerHeaders(res.headers, warning),
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export const anthropicProvider: ProviderFactory = {
  create: (name, config, timeouts) => new AnthropicClient(name, config, timeouts),
};
