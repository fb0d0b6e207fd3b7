import type { z } from "zod";
import { formatPath } from "../config/load.js";
import { GatewayError, invalidRequest, toOpenAIError } from "../errors.js";

const JSON_TYPE = "application/json";

export function tooLarge(limit: number): GatewayError {
  return new GatewayError(`Request body exceeds the limit of ${limit} bytes`, {
    status: 413,
    type: "invalid_request_error",
    code: "request_too_large",
  });
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

/** Validates a query string against a strict schema; a mistake (or an unknown parameter) becomes a 400 naming it. */
export function parseQuery<S extends z.ZodType>(query: Record<string, string>, schema: S): z.infer<S> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const keys = issue && "keys" in issue ? (issue.keys as string[]) : [];
  const param = String(issue?.path[0] ?? keys[0] ?? "query");
  throw new GatewayError(`${param}: ${issue?.message ?? "invalid"}`, {
    status: 400,
    type: "invalid_request_error",
    param,
    code: "invalid_value",
  });
}

export function jsonResponse(status: number, body: string | Uint8Array, headers: Record<string, string>): Response {
  headers["content-type"] = JSON_TYPE;
  return new Response(body, { status, headers });
}

export function errorResponse(err: unknown, requestId: string): Response {
  const { status, body, headers } = toOpenAIError(err);
  return jsonResponse(status, JSON.stringify(body), { ...headers, "x-request-id": requestId });
}
