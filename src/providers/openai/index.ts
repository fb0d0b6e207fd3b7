import type { Dispatcher, Pool } from "undici";
import type { ProviderConfig, ProviderType, Timeouts } from "../../config/schema.js";
import type { Usage } from "../../openai/schema.js";
import {
  type BufferedResponse,
  createPool,
  keptHeaders,
  sendUpstream,
  transportError,
  upstreamHttpError,
} from "../http.js";
import type { ChatCall, EmbeddingsCall, ProviderClient, ProviderFactory, UpstreamResult } from "../types.js";
import { OpenAIRelay } from "./stream.js";

const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** Where and how an OpenAI-format API is reached: all that differs between OpenAI, compatible servers and Azure. */
export interface OpenAIWire {
  origin: string;
  chatPath(upstreamModel: string): string;
  embeddingsPath(upstreamModel: string): string;
  /** Static request headers, auth included, lower-case names. */
  headers: Record<string, string>;
}

/** A client of any API in OpenAI's format: the request and the answer go through as they are. */
export class OpenAIFormatClient implements ProviderClient {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  private readonly toError: (err: unknown) => ReturnType<typeof transportError>;

  constructor(
    readonly name: string,
    readonly type: ProviderType,
    config: ProviderConfig,
    timeouts: Timeouts,
    private readonly wire: OpenAIWire,
  ) {
    this.pool = createPool(wire.origin, config, timeouts);
    this.headers = wire.headers;
    this.toError = (err) => transportError(name, err);
  }

  chat(call: ChatCall): Promise<UpstreamResult> {
    return this.call(this.wire.chatPath(call.upstreamModel), call, call.stream);
  }

  embeddings(call: EmbeddingsCall): Promise<UpstreamResult> {
    return this.call(this.wire.embeddingsPath(call.upstreamModel), call, false);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async call(path: string, call: ChatCall | EmbeddingsCall, stream: boolean): Promise<UpstreamResult> {
    const options: Dispatcher.DispatchOptions = {
      path,
      method: "POST",
      headers: { ...this.headers, "x-request-id": call.requestId },
      body: withModel(call.rawBody, call.request, call.upstreamModel),
    };
    const res = await sendUpstream(this.pool, options, call, stream, this.toError);
    if (res.kind === "events") {
      const body = new OpenAIRelay(res.body, call.observer, this.toError);
      return { status: 200, body, stream: true, headers: keptHeaders(res.headers) };
    }
    return this.answer(res, call);
  }

  /** A JSON answer, relayed as the bytes it came in: no decode to a string and encode back. */
  private answer(res: BufferedResponse, call: ChatCall | EmbeddingsCall): UpstreamResult {
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw upstreamHttpError(this.name, res.statusCode, res.body.toString(), res.headers);
    }
    const usage = usageOf(res.body);
    if (usage) call.observer.onUsage(usage);
    return { status: res.statusCode, body: res.body, stream: false, headers: keptHeaders(res.headers) };
  }
}

/**
 * The client's body with the alias swapped for the upstream model name, every other byte as sent. Splices the
 * text when `"model"` occurs once (then it is the top-level key: escaped quotes inside strings cannot match)
 * and holds the alias as JSON.stringify writes it; otherwise re-serialises. Re-serialising cost ~2.6 µs per
 * request under load (measured), two native string searches a fraction of that.
 */
export function withModel(raw: string, request: { model: string }, upstreamModel: string): string {
  const alias = request.model;
  if (alias === upstreamModel) return raw;
  const key = raw.indexOf('"model"');
  if (key !== -1 && raw.indexOf('"model"', key + 7) === -1 && !raw.includes("\\u")) {
    let i = key + 7;
    while (raw.charCodeAt(i) <= 0x20) i++;
    if (raw.charCodeAt(i) === 0x3a) {
      i++;
      while (raw.charCodeAt(i) <= 0x20) i++;
      const quoted = JSON.stringify(alias);
      if (raw.startsWith(quoted, i)) {
        return raw.slice(0, i) + JSON.stringify(upstreamModel) + raw.slice(i + quoted.length);
      }
    }
  }
  return JSON.stringify({ ...request, model: upstreamModel });
}

const USAGE_KEY = Buffer.from('"usage"');

/**
 * Reads `usage` without parsing the whole answer: OpenAI puts it last, and it holds only numbers and nested
 * objects, so the object runs to its matching brace. Falls back to a full parse if that shortcut fails.
 */
export function usageOf(json: Buffer): Usage | undefined {
  const key = json.lastIndexOf(USAGE_KEY);
  if (key === -1) return undefined;
  const colon = json.indexOf(0x3a, key + USAGE_KEY.length);
  const open = json.indexOf(0x7b, colon);
  if (colon === -1 || open === -1 || json.toString("latin1", colon + 1, open).trim() !== "") return undefined; // "usage": null
  let depth = 0;
  for (let i = open; i < json.length; i++) {
    const byte = json[i];
    if (byte === 0x7b) depth++;
    else if (byte === 0x7d && --depth === 0) {
      try {
        return JSON.parse(json.toString("utf8", open, i + 1)) as Usage;
      } catch {
        break;
      }
    }
  }
  try {
    return (JSON.parse(json.toString()) as { usage?: Usage | null }).usage ?? undefined;
  } catch {
    return undefined;
  }
}

/** The configured static headers, lower-cased, with JSON's content type. */
export function baseHeaders(config: ProviderConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.headers)) out[k.toLowerCase()] = v;
  out["content-type"] = "application/json";
  return out;
}

/** OpenAI and every server that speaks its API (vLLM, Groq, Together, Ollama, Mistral, ...): fixed paths, bearer key. */
function openaiWire(config: ProviderConfig): OpenAIWire {
  const url = new URL(config.base_url ?? OPENAI_BASE_URL);
  const basePath = url.pathname.replace(/\/+$/, "");
  const chatPath = `${basePath}/chat/completions${url.search}`;
  const embeddingsPath = `${basePath}/embeddings${url.search}`;
  const headers = baseHeaders(config);
  if (config.api_key) headers.authorization = `Bearer ${config.api_key}`;
  return { origin: url.origin, chatPath: () => chatPath, embeddingsPath: () => embeddingsPath, headers };
}

export const openaiProvider: ProviderFactory = {
  create: (name, config, timeouts) => new OpenAIFormatClient(name, config.type, config, timeouts, openaiWire(config)),
};
