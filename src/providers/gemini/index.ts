import type { Dispatcher, Pool } from "undici";
import type { ProviderConfig, Timeouts } from "../../config/schema.js";
import type { GatewayError } from "../../errors.js";
import { answerHeaders, type BufferedResponse, createPool, sendUpstream, transportError } from "../http.js";
import { baseHeaders } from "../openai/index.js";
import { checkParameters } from "../params.js";
import { SseReader, TranslatingRelay } from "../translate.js";
import type { ChatCall, ProviderClient, ProviderFactory, UpstreamResult } from "../types.js";
import { httpError } from "./errors.js";
import type { GeminiResponse } from "./native.js";
import { PARAMETERS } from "./params.js";
import { buildRequest } from "./request.js";
import { toCompletion } from "./response.js";
import { GeminiStreamTranslator } from "./stream.js";

// https://ai.google.dev/api/generate-content: the model is in the path, the key in x-goog-api-key.
const GEMINI_BASE_URL = "https://generativelanguage.googleapis.com";
const API_VERSION = "v1beta";

/** Google's Gemini API (Google AI Studio keys), translated to and from OpenAI's chat format. */
class GeminiClient implements ProviderClient {
  readonly type = "gemini" as const;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  private readonly toError: (err: unknown) => GatewayError;

  constructor(
    readonly name: string,
    config: ProviderConfig,
    timeouts: Timeouts,
  ) {
    const url = new URL(config.base_url ?? GEMINI_BASE_URL);
    // A base_url may carry the version path already (…/v1beta); otherwise v1beta is added.
    const root = url.pathname.replace(/\/+$/, "");
    this.basePath = /\/v\d+(alpha|beta)?\d*$/.test(root) ? root : `${root}/${API_VERSION}`;
    this.pool = createPool(url.origin, config, timeouts);
    this.headers = baseHeaders(config);
    if (config.api_key) this.headers["x-goog-api-key"] = config.api_key;
    this.toError = (err) => transportError(name, err);
  }

  async chat(call: ChatCall): Promise<UpstreamResult> {
    const warning = checkParameters(call.request, PARAMETERS, "gemini"); // a rejected field throws here
    const body = JSON.stringify(buildRequest(call.request));
    const model = `${this.basePath}/${modelPath(call.upstreamModel)}`;
    const options: Dispatcher.DispatchOptions = {
      path: call.stream ? `${model}:streamGenerateContent?alt=sse` : `${model}:generateContent`,
      method: "POST",
      headers: { ...this.headers, "x-request-id": call.requestId },
      body,
    };
    const res = await sendUpstream(this.pool, options, call, call.stream, this.toError);
    if (res.kind === "events") {
      const translator = new GeminiStreamTranslator(this.name, call.upstreamModel, call.requestId);
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
    // A whole answer, also when a stream was asked for and an upstream proxy answered in JSON.
    return this.answer(res, call, warning);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private answer(res: BufferedResponse, call: ChatCall, warning: Record<string, string> | undefined): UpstreamResult {
    const text = res.body.toString();
    if (res.statusCode < 200 || res.statusCode >= 300) throw httpError(this.name, res.statusCode, text, res.headers);
    let parsed: GeminiResponse;
    try {
      parsed = JSON.parse(text) as GeminiResponse;
    } catch {
      throw httpError(this.name, 502, text, res.headers);
    }
    const { json, usage } = toCompletion(this.name, parsed, call.requestId, call.upstreamModel);
    if (usage) call.observer.onUsage(usage);
    return { status: 200, body: json, stream: false, headers: answerHeaders(res.headers, warning) };
  }
}

/** "gemini-2.0-flash" and "models/gemini-2.0-flash" name the same model; a tuned model keeps its own prefix. */
function modelPath(model: string): string {
  const [collection, name] = model.startsWith("tunedModels/") ? ["tunedModels", model.slice(12)] : ["models", model];
  return `${collection}/${encodeURIComponent(name.replace(/^models\//, ""))}`;
}

export const geminiProvider: ProviderFactory = {
  create: (name, config, timeouts) => new GeminiClient(name, config, timeouts),
};
