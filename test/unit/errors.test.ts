import { describe, expect, it } from "vitest";
import { GatewayError, toOpenAIError } from "../../src/errors.js";
import { transportError, upstreamHttpError } from "../../src/providers/http.js";
import { usageOf } from "../../src/providers/openai/index.js";

describe("toOpenAIError", () => {
  it("maps a GatewayError to OpenAI's error JSON with its status and headers", () => {
    const err = new GatewayError("Rate limit reached", {
      status: 429,
      type: "rate_limit_error",
      code: "rate_limit_exceeded",
      headers: { "retry-after": "2" },
    });
    expect(toOpenAIError(err)).toEqual({
      status: 429,
      body: {
        error: { message: "Rate limit reached", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" },
      },
      headers: { "retry-after": "2" },
    });
  });

  it("never leaks the message or stack of an unexpected error", () => {
    const mapped = toOpenAIError(new TypeError("cannot read properties of undefined (secret internals)"));
    expect(mapped.status).toBe(500);
    expect(JSON.stringify(mapped.body)).not.toContain("secret internals");
    expect(mapped.body.error).toEqual({
      message: "Internal gateway error",
      type: "server_error",
      param: null,
      code: "internal_error",
    });
  });
});

describe("upstream errors", () => {
  it("keeps an OpenAI-shaped upstream error's status, message, type, code and param", () => {
    const body = JSON.stringify({
      error: { message: "Invalid 'temperature'", type: "invalid_request_error", param: "temperature", code: "bad" },
    });
    const err = upstreamHttpError("openai", 400, body, {});
    expect(toOpenAIError(err)).toEqual({
      status: 400,
      body: {
        error: { message: "Invalid 'temperature'", type: "invalid_request_error", param: "temperature", code: "bad" },
      },
      headers: undefined,
    });
  });

  it("keeps retry-after and rate-limit hints on a 429", () => {
    const err = upstreamHttpError("groq", 429, '{"error":{"message":"slow down"}}', {
      "retry-after": "3",
      "x-ratelimit-remaining-requests": "0",
      "set-cookie": "nope",
    });
    expect(err.type).toBe("rate_limit_error");
    expect(err.headers).toEqual({ "retry-after": "3", "x-ratelimit-remaining-requests": "0" });
  });

  it("re-shapes a non-JSON or differently shaped error body", () => {
    expect(upstreamHttpError("vllm", 502, "<html>Bad Gateway</html>", {}).message).toBe(
      "Upstream provider 'vllm' returned HTTP 502: <html>Bad Gateway</html>",
    );
    expect(upstreamHttpError("ollama", 404, '{"error":"model not found"}', {}).message).toBe("model not found");
    expect(upstreamHttpError("x", 422, '{"detail":"bad field"}', {}).type).toBe("invalid_request_error");
  });

  it("turns a non-error status an upstream should not send into a 502", () => {
    expect(upstreamHttpError("x", 302, "", {}).status).toBe(502);
  });

  it("maps refused connections to 502 and timeouts to 504", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(transportError("openai", refused)).toMatchObject({ status: 502, code: "upstream_unreachable" });
    const timeout = Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" });
    expect(transportError("openai", timeout)).toMatchObject({ status: 504, code: "upstream_timeout" });
  });
});

describe("usageOf (reading usage without parsing the whole answer)", () => {
  it("reads the usage object, nested details included", () => {
    const body = JSON.stringify({
      id: "x",
      choices: [{ message: { content: 'he said "usage": {"prompt_tokens": 999}' } }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: { cached_tokens: 1 } },
    });
    expect(usageOf(Buffer.from(body))).toEqual({
      prompt_tokens: 3,
      completion_tokens: 4,
      total_tokens: 7,
      prompt_tokens_details: { cached_tokens: 1 },
    });
  });

  it("finds usage that is not last, and answers undefined for null or no usage", () => {
    const usage = (json: string) => usageOf(Buffer.from(json));
    expect(usage('{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"model":"m"}')).toEqual({
      prompt_tokens: 1,
      completion_tokens: 2,
      total_tokens: 3,
    });
    expect(usage('{"usage":null,"choices":[{"x":{}}]}')).toBeUndefined();
    expect(usage('{"choices":[]}')).toBeUndefined();
  });
});
