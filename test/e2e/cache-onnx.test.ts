import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dot, NgramEmbedder } from "../../src/cache/semantic/index.js";
import { ConfigError } from "../../src/config/load.js";
import { type TinyModel, writeTinyModel } from "../fixtures/tiny-onnx.js";
import { postOpen, startGateway, type TestGateway } from "../helpers/gateway.js";
import { semanticRoutes } from "../helpers/routes.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

// The semantic tier with a local ONNX embedder, through HTTP against the OpenAI mock: the tiny test model is a
// bag of words, so a reordered question scores exactly 1 with it and less with the default n-gram embedder.

const RUN = randomBytes(3).toString("hex");
let upstream: OpenAIMock;
let model: TinyModel;
const gateways: TestGateway[] = [];

const routes = (embedder: string) => semanticRoutes(upstream.url, 0, embedder);

const ask = (gw: TestGateway, content: string) =>
  postOpen(gw, { model: "sem", temperature: 0, messages: [{ role: "user", content }] });

const calls = () => upstream.requests.filter((r) => r.path.endsWith("/chat/completions")).length;

beforeAll(async () => {
  upstream = await startOpenAIMock();
  model = await writeTinyModel();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await upstream.close();
  await rm(model.dir, { recursive: true, force: true });
});

describe("semantic cache with a local ONNX embedder", () => {
  it("serves a semantic hit scored by the model in cache.semantic.embedder.model_path", async () => {
    const gw = await startGateway(routes(`{ kind: onnx, model_path: "${model.dir}" }`));
    gateways.push(gw);
    const loaded = gw.logs.find((l) => l.msg === "semantic cache: local ONNX model");
    expect(loaded).toMatchObject({ dimensions: 8 });
    expect(String(loaded?.embedder)).toMatch(/^onnx:tollgate-tiny-onnx-/);

    const stored = `What is the capital of France? ${RUN}`;
    const reordered = `the capital of France is what? ${RUN}`;
    expect((await ask(gw, stored)).headers.get("x-tollgate-cache")).toBe("miss");
    const before = calls();
    const hit = await ask(gw, reordered);
    expect(hit.status).toBe(200);
    expect(hit.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect(calls()).toBe(before);
    // Order-blind: the ONNX model, not the n-gram embedder (whose bigrams see the order), scored this pair.
    expect(hit.headers.get("x-tollgate-cache-similarity")).toBe("1.000");
    const ngram = new NgramEmbedder();
    expect(dot(ngram.embed(`user: ${stored}`), ngram.embed(`user: ${reordered}`))).toBeLessThan(0.99);
    // The guards still apply: another topic word is another question.
    expect((await ask(gw, `What is the capital of Africa? ${RUN}`)).headers.get("x-tollgate-cache")).toBe("miss");
  });

  it("refuses to start when the model folder lacks files, naming the config path", async () => {
    const start = startGateway(routes(`{ kind: onnx, model_path: "models/not-there-${RUN}" }`));
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(
      new RegExp(
        `^routes\\.yaml: cache\\.semantic\\.embedder\\.model_path: ONNX model folder .*/models/not-there-${RUN} lacks config\\.json`,
      ),
    );
  });
});
