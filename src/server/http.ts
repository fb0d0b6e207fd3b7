import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import type { z } from "zod";
import { formatPath } from "../config/load.js";
import { GatewayError, invalidRequest, toOpenAIError } from "../errors.js";

const JSON_TYPE = "application/json";
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * A request header. Under @hono/node-server, read from node's own header object: c.req.header() makes the
 * adapter build a full web Headers object first, a few µs per request for nothing.
 */
export function headerOf(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) return c.req.header(name);
  const value = incoming.headers[name];
  return typeof value === "string" ? value : value?.[0];
}

/** The client's x-request-id when it is a sane token, else a fresh one. */
export function requestIdOf(c: Context): string {
  const given = headerOf(c, "x-request-id");
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

export function tooLarge(limit: number): GatewayError {
  return new GatewayError(`Request body exceeds the limit of ${limit} bytes`, {
    status: 413,
    type: "invalid_request_error",
    code: "request_too_large",
  });
}

/** Reads the body as text, refusing more than `limit` bytes, whether or not a content-length was sent. */
export async function readBodyText(c: Context, limit: number): Promise<string> {
  const declared = headerOf(c, "content-length");
  if (declared !== undefined) {
    if (Number(declared) > limit) throw tooLarge(limit);
    return c.req.text();
  }
  const body = c.req.raw.body;
  if (body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses and validates a JSON body; a mistake becomes a 400 that names the field. */
export function parseBody<S extends z.ZodType>(text: string, schema: S): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidRequest(
      `We could not parse the JSON body of your request. (${(err as Error).message}) The body must be a JSON object.`,
      null,
      "invalid_json",
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidRequest("The request body must be a JSON object.", null, "invalid_json");
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const param = formatPath(issue.path);
  const what = issue.message.replace(/^Invalid input: /, "");
  const message =
    issue.code === "invalid_type" && what.endsWith("received undefined")
      ? `Missing required parameter: '${param}'.`
      : `Invalid value for '${param || "body"}': ${what}.`;
  throw invalidRequest(message, param || null, "invalid_value");
}

export function jsonResponse(status: number, body: string | Uint8Array, headers: Record<string, string>): Response {
  headers["content-type"] = JSON_TYPE;
  return new Response(body, { status, headers });
}

export function errorResponse(err: unknown, requestId: string): Response {
  const { status, body, headers } = toOpenAIError(err);
  return jsonResponse(status, JSON.stringify(body), { ...headers, "x-request-id": requestId });
}
