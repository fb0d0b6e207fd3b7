import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { closedPort, testRoutes } from "../helpers/routes.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

let mock: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startOpenAIMock();
  gw = await startGateway(testRoutes(mock.url, await closedPort()));
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test-key", maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await mock.close();
});

describe("GET /v1/models", () => {
  it("lists the configured aliases in OpenAI's list shape", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model).toEqual({ id: model.id, object: "model", created: expect.any(Number), owned_by: "tollgate" });
      ids.push(model.id);
    }
    expect(ids).toContain("chat");
    expect(ids).toContain("embed");
    expect(ids).not.toContain("gpt-4o"); // upstream names are not aliases
  });

  it("retrieves one alias, and 404s an unknown one", async () => {
    expect(await client.models.retrieve("chat")).toMatchObject({ id: "chat", object: "model" });
    await expect(client.models.retrieve("nope")).rejects.toMatchObject({ status: 404, code: "model_not_found" });
  });
});

describe("POST /v1/embeddings", () => {
  it("goes through the alias to an OpenAI-compatible upstream, in the SDK's default base64 encoding", async () => {
    const res = await client.embeddings.create({ model: "embed", input: ["a", "b"] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding.map((x) => Math.round(x * 10) / 10)).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(res.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    const sent = mock.requests.at(-1);
    expect(sent?.path).toBe("/v1/embeddings");
    expect(sent?.body).toMatchObject({ model: "text-embedding-3-small", input: ["a", "b"], encoding_format: "base64" });
  });

  it("validates the body and the model like chat does", async () => {
    await expect(client.embeddings.create({ model: "nope", input: "x" })).rejects.toMatchObject({ status: 404 });
    const res = await fetch(`${gw.baseURL}/embeddings`, { method: "POST", body: '{"model":"embed"}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("input");
  });
});

describe("operational endpoints", () => {
  it("GET /health is live", async () => {
    const res = await fetch(`${gw.origin}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("GET /ready reports the config and store checks", async () => {
    const res = await fetch(`${gw.origin}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { config: "ok" } });
  });

  it("GET /metrics serves Prometheus text with the request counters", async () => {
    await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }] });
    const stream = await client.chat.completions.create({
      model: "chat",
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    for await (const _chunk of stream);
    const res = await fetch(`${gw.origin}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /tollgate_requests_total\{endpoint="chat",alias="chat",deployment="upstream\/gpt-4o-mini",status="200",outcome="completed"\} \d+/,
    );
    expect(text).toContain("tollgate_request_duration_seconds_bucket");
    expect(text).toContain(
      'tollgate_time_to_first_byte_seconds_count{endpoint="chat",alias="chat",deployment="upstream/gpt-4o-mini",stream="true"} 1',
    );
    expect(text).toContain('tollgate_tokens_total{alias="chat",deployment="upstream/gpt-4o-mini",kind="prompt"}');
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toMatch(/^tollgate_requests_in_flight 0$/m);
  });

  it("puts an x-request-id on every response", async () => {
    for (const path of ["/health", "/ready", "/metrics", "/v1/models", "/v1/models/chat", "/v1/models/nope", "/nope"]) {
      const res = await fetch(`${gw.origin}${path}`, { headers: { "x-request-id": "rid-42" } });
      expect([path, res.headers.get("x-request-id")]).toEqual([path, "rid-42"]);
    }
    const generated = await fetch(`${gw.origin}/health`, { headers: { "x-request-id": "bad id with spaces" } });
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers an unknown URL with an OpenAI-shaped 404", async () => {
    const res = await fetch(`${gw.baseURL}/completions/legacy`, { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: "Unknown request URL: POST /v1/completions/legacy.",
        type: "invalid_request_error",
        param: null,
        code: "unknown_url",
      },
    });
  });
});

describe("without a node response at hand (app.request, other runtimes)", () => {
  it("still streams, through a web ReadableStream", async () => {
    const res = await gw.gateway.app.request("/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify({ model: "chat", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const text = await res.text();
    expect(text.match(/^data: \{/gm)).toHaveLength(22);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("answers JSON and the same errors", async () => {
    const request = (body: string) => gw.gateway.app.request("/v1/chat/completions", { method: "POST", body });
    const ok = await request(JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hi" }] }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-tollgate-deployment")).toBe("upstream/gpt-4o-mini");
    expect(((await ok.json()) as { usage: object }).usage).toEqual({
      prompt_tokens: 11,
      completion_tokens: 7,
      total_tokens: 18,
      cost: 0.00000585,
    });
    expect(ok.headers.get("x-tollgate-cost")).toBe("0.00000585");
    expect((await request("{oops")).status).toBe(400);
    const big = JSON.stringify({ model: "chat", messages: [{ role: "user", content: "x".repeat(70_000) }] });
    expect((await request(big)).status).toBe(413);
  });
});
