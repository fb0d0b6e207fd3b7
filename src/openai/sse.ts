import { type GatewayError, toOpenAIError } from "../errors.js";

const encoder = new TextEncoder();

export const DONE_FRAME = encoder.encode("data: [DONE]\n\n");

/** The last frame of a stream that failed after it started; the openai SDKs throw an APIError on it. */
export function sseErrorFrame(err: GatewayError): Uint8Array {
  return encoder.encode(`event: error\ndata: ${JSON.stringify(toOpenAIError(err).body)}\n\n`);
}

export function sseDataFrame(json: string): Uint8Array {
  return encoder.encode(`data: ${json}\n\n`);
}
