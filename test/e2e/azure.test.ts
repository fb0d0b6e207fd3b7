import OpenAI, { AzureOpenAI } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

let mock: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;
const messages = [{ role: "user" as const, content: "Hello" }];
const last = () => mock.requests.at(-1) as OpenAIMock["requests"][number];

beforeAll(async () => {
  mock = await startOpenAIMock({ chunks: 4 });
  const endpoint = `http://127.0.0.1:${mock.port}`;
  gw = await startGateway(
    `
providers:
  azure-east:
    type: azure
    base_url: ${endpoint}
    api_key: \${AZURE_OPENAI_API_KEY}
    api_version: 2024-10-21
  azure-entra:
    type: azure
    base_url: ${endpoint}/openai
    bearer_token: \${AZURE_OPENAI_AD_TOKEN}
  azure-unset:
    type: azure
    base_url: ${endpoint}
    api_key: \${AZURE_KEY_NOT_SET}
models:
  gpt-4o:
    deployments: [{ provider: azure-east, model: gpt4o-prod }]
  gpt-4o-entra:
    deployments: [{ provider: azure-entra, model: gpt4o prod }]
  limited:
    deployments: [{ provider: azure-east, model: mock-429 }]
  embed:
    deployments: [{ provider: azure-east, model: embed-small }]
  nokey:
    deployments: [{ provider: azure-unset, model: x }]
`,
    { AZURE_OPENAI_API_KEY: "azure-key-123", AZURE_OPENAI_AD_TOKEN: "entra-token-456" },
  );
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await mock.close();
});

describe("the mock upstream speaks Azure OpenAI, read by the official AzureOpenAI client", () => {
  it("answers on the deployment path with the api-version query and api-key header", async () => {
    const azure = new AzureOpenAI({
      endpoint: `http://127.0.0.1:${mock.port}`,
      apiKey: "k",
      apiVersion: "2024-10-21",
      deployment: "dep-1",
      maxRetries: 0,
    });
    const res = await azure.chat.completions.create({ model: "ignored", messages });
    expect(res.choices[0]?.message.content).toBe("Hello from the mock upstream.");
    expect(last().path).toBe("/openai/deployments/dep-1/chat/completions?api-version=2024-10-21");
    expect(last().headers["api-key"]).toBe("k");
    const stream = await azure.chat.completions.create({ model: "ignored", messages, stream: true });
    let chunks = 0;
    for await (const _chunk of stream) chunks++;
    expect(chunks).toBe(6); // role, 4 content, finish
  });
});

describe("type: azure through the gateway", () => {
  it("calls the deployment's URL with api-version and api-key, not a bearer key", async () => {
    const res = await client.chat.completions.create({ model: "gpt-4o", messages, temperature: 0 });
    expect(res.choices[0]?.message.content).toBe("Hello from the mock upstream.");
    expect(last().path).toBe("/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
    expect(last().headers["api-key"]).toBe("azure-key-123");
    expect(last().headers.authorization).toBeUndefined();
    expect(last().body).toMatchObject({ messages, temperature: 0 });
  });

  it("sends an Entra ID token as a bearer, escapes the deployment name, defaults the api-version", async () => {
    await client.chat.completions.create({ model: "gpt-4o-entra", messages });
    expect(last().path).toBe("/openai/deployments/gpt4o%20prod/chat/completions?api-version=2024-10-21");
    expect(last().headers.authorization).toBe("Bearer entra-token-456");
    expect(last().headers["api-key"]).toBeUndefined();
  });

  it("streams, with usage when asked", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("tok0 tok1 tok2 tok3 ");
    expect(usage?.total_tokens).toBe(15);
  });

  it("serves embeddings on the deployment's embeddings path", async () => {
    const res = await client.embeddings.create({ model: "embed", input: "x" });
    expect(res.data).toHaveLength(1);
    expect(last().path).toBe("/openai/deployments/embed-small/embeddings?api-version=2024-10-21");
  });

  it("keeps Azure's errors and retry-after", async () => {
    const err = await client.chat.completions.create({ model: "limited", messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toBe("7");
  });

  it("names the variable to set when the key is missing", async () => {
    await expect(client.chat.completions.create({ model: "nokey", messages })).rejects.toMatchObject({
      status: 503,
      message: expect.stringContaining("AZURE_KEY_NOT_SET"),
    });
  });
});
