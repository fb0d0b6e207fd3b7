import { randomBytes } from "node:crypto";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { fromRow, UsageLedger, type UsageRecord } from "../../src/usage/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { closedPort } from "../helpers/routes.js";
import { type AnthropicMock, startAnthropicMock } from "../mocks/anthropic.js";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
// This file's own Postgres schema: other tests' keys or rows in the shared database never reach it.
const PG_SCHEMA = `t_ledger_${randomBytes(4).toString("hex")}`;
const messages = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Hello" },
];
const run = `${process.pid}-${Date.now().toString(36)}`;
let seq = 0;
const newId = (what: string) => `ledger-e2e-${run}-${what}-${++seq}`;

function routes(openaiUrl: string, anthropicUrl: string): string {
  return `
providers:
  upstream:
    type: openai-compatible
    base_url: ${openaiUrl}
  claude:
    type: anthropic
    base_url: ${anthropicUrl}
    api_key: sk-ant-test-0123456789
models:
  chat:
    deployments: [{ provider: upstream, model: gpt-4o-mini }]
  big:
    deployments: [{ provider: upstream, model: gpt-4o }]
  sonnet:
    deployments: [{ provider: claude, model: claude-sonnet-4-5 }]
  broken:
    deployments: [{ provider: upstream, model: mock-500 }]
  rate-limited:
    deployments: [{ provider: upstream, model: mock-429 }]
  slow-stream:
    deployments:
      - provider: upstream
        model: mock-slow-stream
        price: { input_per_mtok: 1, output_per_mtok: 2 }
`;
}

let mock: OpenAIMock;
let claude: AnthropicMock;

beforeAll(async () => {
  [mock, claude] = await Promise.all([startOpenAIMock({ chunks: 20 }), startAnthropicMock()]);
});

afterAll(async () => {
  await Promise.all([mock?.close(), claude?.close()]);
});

/** Every record the gateway handed to its ledger, by request id: "exactly one" is counted here, not by the table. */
function spyOnRecords(gw: TestGateway): Map<string, UsageRecord[]> {
  const seen = new Map<string, UsageRecord[]>();
  const ledger = gw.gateway.services.ledger;
  const record = ledger.record.bind(ledger);
  ledger.record = (r: UsageRecord) => {
    seen.set(r.requestId, [...(seen.get(r.requestId) ?? []), r]);
    record(r);
  };
  return seen;
}

async function storedRecords(gw: TestGateway, requestId: string): Promise<UsageRecord[]> {
  await gw.gateway.services.ledger.flush();
  const rows = await gw.gateway.services.store.db
    .selectFrom("usage_records")
    .selectAll()
    .where("request_id", "=", requestId)
    .execute();
  return rows.map(fromRow);
}

/** Waits for the request's record (written when the request finishes, after the answer), then checks it is alone. */
async function theRecord(gw: TestGateway, seen: Map<string, UsageRecord[]>, requestId: string): Promise<UsageRecord> {
  const until = Date.now() + 5000;
  while (!seen.has(requestId) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50)); // a second record, were there one, would come by now
  expect(seen.get(requestId)).toHaveLength(1);
  const stored = await storedRecords(gw, requestId);
  expect(stored).toHaveLength(1);
  return stored[0] as UsageRecord;
}

describe.each([
  ["embedded SQLite", {}],
  ["Postgres", { DATABASE_URL: PG_URL, TOLLGATE_DB_SCHEMA: PG_SCHEMA }],
] as const)("the usage ledger on %s: exactly one record per request", (_name, env) => {
  let gw: TestGateway;
  let client: OpenAI;
  let seen: Map<string, UsageRecord[]>;

  beforeAll(async () => {
    gw = await startGateway(routes(mock.url, claude.url), { ...env });
    seen = spyOnRecords(gw);
    client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
  });

  afterAll(async () => {
    await gw?.close();
  });

  it("a JSON answer: tokens, estimated and actual cost, deployment, end user", async () => {
    const id = newId("ok");
    const { response } = await client.chat.completions
      .create({ model: "chat", messages, user: "end-user-42" }, { headers: { "x-request-id": id } })
      .withResponse();
    const r = await theRecord(gw, seen, id);
    expect(r).toMatchObject({
      requestId: id,
      alias: "chat",
      provider: "openai-compatible",
      deployment: "upstream/gpt-4o-mini",
      upstreamModel: "gpt-4o-mini",
      status: 200,
      outcome: "ok",
      promptTokens: 11,
      completionTokens: 7,
      cachedTokens: 0,
      stream: false,
      endpoint: "chat",
      endUser: "end-user-42",
    });
    expect(r.actualCostUsd).toBeCloseTo(0.00000585, 14);
    expect(r.estimatedCostUsd).toBeCloseTo(Number(response.headers.get("x-tollgate-cost-estimate")), 10);
    expect(r.estimatedCostUsd).toBeGreaterThan(0);
    expect(r.errorType).toBeUndefined();
  });

  it("a stream whose client did not ask for usage still records its tokens", async () => {
    const id = newId("stream");
    const stream = await client.chat.completions.create(
      { model: "chat", messages, stream: true, user: "streamer" },
      { headers: { "x-request-id": id } },
    );
    let usageSeen = false;
    for await (const chunk of stream) usageSeen ||= chunk.usage != null;
    expect(usageSeen).toBe(false);
    const r = await theRecord(gw, seen, id);
    expect(r).toMatchObject({
      alias: "chat",
      deployment: "upstream/gpt-4o-mini",
      status: 200,
      outcome: "ok",
      promptTokens: 11,
      completionTokens: 20,
      stream: true,
      endUser: "streamer",
    });
    expect(r.actualCostUsd).toBeCloseTo(0.00001365, 14); // 11 x 0.15e-6 + 20 x 0.60e-6
    expect(r.estimatedCostUsd).toBeGreaterThan(0);
    expect(r.ttftMs).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ["broken", 500],
    ["rate-limited", 429],
  ])("an upstream error (%s): its status, no tokens, no cost", async (alias, status) => {
    const id = newId(alias);
    const err = await client.chat.completions
      .create({ model: alias, messages }, { headers: { "x-request-id": id } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const r = await theRecord(gw, seen, id);
    expect(r).toMatchObject({
      alias,
      provider: "openai-compatible",
      deployment: `upstream/${alias === "broken" ? "mock-500" : "mock-429"}`,
      status,
      outcome: "error",
      promptTokens: 0,
      completionTokens: 0,
      stream: false,
    });
    expect(r.actualCostUsd).toBeUndefined();
    expect(r.errorType).toBeDefined();
  });

  async function abortAfterThreeChunks(id: string): Promise<UsageRecord> {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "slow-stream", messages, stream: true },
      { signal: controller.signal, headers: { "x-request-id": id } },
    );
    let received = 0;
    for await (const _chunk of stream) {
      if (++received === 3) controller.abort();
    }
    expect(received).toBe(3);
    return theRecord(gw, seen, id);
  }

  it("a stream the client aborts mid-way: one client_abort record", async () => {
    const r = await abortAfterThreeChunks(newId("abort"));
    expect(r).toMatchObject({
      alias: "slow-stream",
      provider: "openai-compatible",
      deployment: "upstream/mock-slow-stream",
      status: 200,
      outcome: "client_abort",
      stream: true,
    });
    expect(r.estimatedCostUsd).toBeGreaterThan(0);
  });

  // Issue 5: "for a stream the client aborted, the tokens already generated are counted". The upstream's usage
  // chunk never comes: the prompt is the estimate, the completion one token per content chunk relayed.
  it("a stream the client aborts mid-way: the tokens generated so far are counted", async () => {
    const r = await abortAfterThreeChunks(newId("abort-tokens"));
    expect(r.completionTokens).toBeGreaterThan(0);
    expect(r.completionTokens).toBeLessThan(500); // the whole stream is 500 chunks
    expect(r.promptTokens).toBeGreaterThan(0);
    expect(r.actualCostUsd).toBeCloseTo(r.promptTokens * 1e-6 + r.completionTokens * 2e-6, 14);
  });

  it("a body that is not JSON: a 400 record", async () => {
    const id = newId("badjson");
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": id },
      body: "{oops",
    });
    expect(res.status).toBe(400);
    const r = await theRecord(gw, seen, id);
    expect(r).toMatchObject({ status: 400, outcome: "error", promptTokens: 0, completionTokens: 0 });
    expect(r.deployment).toBeUndefined();
    expect(r.actualCostUsd).toBeUndefined();
  });

  it("an unknown model: a 404 record under the name asked for", async () => {
    const id = newId("unknown");
    const err = await client.chat.completions
      .create({ model: "no-such-model", messages }, { headers: { "x-request-id": id } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    const r = await theRecord(gw, seen, id);
    expect(r).toMatchObject({ alias: "no-such-model", status: 404, outcome: "error", stream: false });
    expect(r.provider).toBeUndefined();
    expect(r.deployment).toBeUndefined();
  });

  it.runIf("DATABASE_URL" in env)("the rows are in Postgres's ${PG_SCHEMA}.usage_records", async () => {
    const id = newId("pg");
    await client.chat.completions.create({ model: "chat", messages }, { headers: { "x-request-id": id } });
    await theRecord(gw, seen, id);
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    try {
      const { rows } = await db.query(
        `select alias, prompt_tokens, completion_tokens from ${PG_SCHEMA}.usage_records where request_id = $1`,
        [id],
      );
      expect(rows).toEqual([{ alias: "chat", prompt_tokens: 11, completion_tokens: 7 }]);
    } finally {
      await db.end();
    }
  });
});

interface SummaryRow {
  group: string | null;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  estimatedCostUsd: number;
}

describe("GET /v1/usage on a fresh gateway", () => {
  let gw: TestGateway;
  let startedAt: number;
  let endedAt: number;
  const usage = async (query: string, init?: RequestInit) => fetch(`${gw.origin}/v1/usage${query}`, init);
  const rows = async (query: string) => {
    const res = await usage(query);
    expect(res.status).toBe(200);
    return ((await res.json()) as { data: SummaryRow[] }).data;
  };

  // Two chat (11/7 each), one chat stream (11/20), one big (gpt-4o, 11/7), one sonnet (17/7, 4 cached), one 404.
  const CHAT = 2 * 0.00000585 + 0.00001365;
  const BIG = 11 * 2.5e-6 + 7 * 10e-6;
  const SONNET = 11 * 3e-6 + 4 * 0.3e-6 + 2 * 3.75e-6 + 7 * 15e-6;

  beforeAll(async () => {
    gw = await startGateway(routes(mock.url, claude.url));
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
    startedAt = Date.now();
    await client.chat.completions.create({ model: "chat", messages });
    await client.chat.completions.create({ model: "chat", messages });
    for await (const _c of await client.chat.completions.create({ model: "chat", messages, stream: true })) {
      // drained
    }
    await client.chat.completions.create({ model: "big", messages });
    await client.chat.completions.create({ model: "sonnet", messages });
    await client.chat.completions.create({ model: "no-such-model", messages }).catch(() => undefined);
    const until = Date.now() + 5000;
    for (;;) {
      await gw.gateway.services.ledger.flush();
      const [all] = await rows("");
      if (all?.requests === 6 || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    endedAt = Date.now() + 1;
  });

  afterAll(async () => {
    await gw?.close();
  });

  const close = (actual: number | undefined, expected: number) => expect(actual).toBeCloseTo(expected, 14);

  it("totals every request, with no group_by", async () => {
    const [all, ...rest] = await rows("");
    expect(rest).toEqual([]);
    expect(all).toMatchObject({
      group: null,
      requests: 6,
      promptTokens: 11 * 4 + 17,
      completionTokens: 7 * 4 + 20,
      cachedTokens: 4,
    });
    close(all?.costUsd, CHAT + BIG + SONNET);
    expect(all?.estimatedCostUsd).toBeGreaterThan(0);
  });

  it("groups by model: the upstream model, or the name asked for when none served", async () => {
    const data = await rows("?group_by=model");
    expect(data.map((r) => [r.group, r.requests, r.promptTokens, r.completionTokens])).toEqual([
      ["claude-sonnet-4-5", 1, 17, 7],
      ["gpt-4o", 1, 11, 7],
      ["gpt-4o-mini", 3, 33, 34],
      ["no-such-model", 1, 0, 0],
    ]);
    close(data[0]?.costUsd, SONNET);
    close(data[1]?.costUsd, BIG);
    close(data[2]?.costUsd, CHAT);
    expect(data[3]?.costUsd).toBe(0);
  });

  it("groups by provider, the request no provider served last", async () => {
    const data = await rows("?group_by=provider");
    expect(data.map((r) => [r.group, r.requests, r.promptTokens, r.completionTokens, r.cachedTokens])).toEqual([
      ["anthropic", 1, 17, 7, 4],
      ["openai-compatible", 4, 44, 41, 0],
      [null, 1, 0, 0, 0],
    ]);
    close(data[0]?.costUsd, SONNET);
    close(data[1]?.costUsd, CHAT + BIG);
  });

  it("groups by day: UTC midnights, summing to the total", async () => {
    const data = await rows("?group_by=day");
    const days = new Set([startedAt, endedAt].map((t) => new Date(t - (t % 86_400_000)).toISOString()));
    expect(data.map((r) => r.group)).toEqual([...days]);
    expect(data.reduce((n, r) => n + r.requests, 0)).toBe(6);
    expect(data.reduce((n, r) => n + r.completionTokens, 0)).toBe(48);
    close(
      data.reduce((n, r) => n + r.costUsd, 0),
      CHAT + BIG + SONNET,
    );
  });

  it("filters by alias, provider and time range", async () => {
    const [chat] = await rows("?alias=chat");
    expect(chat).toMatchObject({ requests: 3, promptTokens: 33, completionTokens: 34 });
    close(chat?.costUsd, CHAT);
    const [anthropic] = await rows("?provider=anthropic");
    expect(anthropic).toMatchObject({ requests: 1, promptTokens: 17 });
    close(anthropic?.costUsd, SONNET);
    expect((await rows(`?from=${startedAt}&to=${endedAt}`))[0]?.requests).toBe(6);
    expect((await rows(`?from=${new Date(startedAt).toISOString()}`))[0]?.requests).toBe(6);
    expect((await rows(`?to=${startedAt}`))[0]?.requests).toBe(0);
    expect((await rows(`?from=${endedAt + 60_000}`))[0]?.requests).toBe(0);
    const byProvider = await rows(`?alias=big&group_by=provider&from=${startedAt}`);
    expect(byProvider.map((r) => [r.group, r.requests])).toEqual([["openai-compatible", 1]]);
  });

  it("exports CSV with a header row, by format=csv or Accept: text/csv", async () => {
    const header = "group,requests,prompt_tokens,completion_tokens,cached_tokens,cost_usd,estimated_cost_usd";
    for (const res of [
      await usage("?group_by=provider&format=csv"),
      await usage("?group_by=provider", { headers: { accept: "text/csv" } }),
    ]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
      const lines = (await res.text()).trimEnd().split("\r\n");
      expect(lines[0]).toBe(header);
      expect(lines.slice(1).map((l) => l.split(",").slice(0, 5))).toEqual([
        ["anthropic", "1", "17", "7", "4"],
        ["openai-compatible", "4", "44", "41", "0"],
        ["", "1", "0", "0", "0"],
      ]);
    }
  });

  it.each([
    ["group_by", "?group_by=week"],
    ["from", "?from=yesterday"],
    ["to", "?to=not-a-date"],
    ["format", "?format=xml"],
  ])("answers a bad %s with a 400 naming it", async (param, query) => {
    const res = await usage(query);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { type: string; param: string; message: string } };
    expect(error).toMatchObject({ type: "invalid_request_error", param });
    expect(error.message).toContain(param);
  });
});

describe("Postgres down at start", () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it("serves, spools the records, and a ledger on the live database replays them", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "tollgate-pg-down-"));
    const deadUrl = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    gw = await startGateway(routes(mock.url, claude.url), {
      DATABASE_URL: deadUrl,
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_DB_SCHEMA: PG_SCHEMA,
    });
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: "tg-test", maxRetries: 0 });
    const ids = [newId("down"), newId("down"), newId("down")];
    const seen = spyOnRecords(gw);
    for (const id of ids) {
      const res = await client.chat.completions.create(
        { model: "chat", messages },
        { headers: { "x-request-id": id } },
      );
      expect(res.usage?.prompt_tokens).toBe(11);
    }
    const until = Date.now() + 5000;
    while (ids.some((id) => !seen.has(id)) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const ledger = gw.gateway.services.ledger;
    await ledger.flush();
    expect(ledger.pending()).toBe(0); // nothing only in memory
    expect(ledger.spoolBytes()).toBeGreaterThan(0);
    expect((await readdir(join(dataDir, "spool"))).length).toBeGreaterThan(0);
    expect(
      (await fetch(`${gw.origin}/metrics`).then((r) => r.text())).match(
        /^tollgate_usage_records_total\{state="spooled"\} (\d+)/m,
      )?.[1],
    ).toBe("3");
    await gw.close(); // the database is still down: the records stay on the spool
    gw = undefined;

    const store = openStore({ databaseUrl: PG_URL, pgSchema: PG_SCHEMA, onError: () => {} });
    await store.migrate();
    const replayer = await UsageLedger.open({
      store,
      spoolDir: join(dataDir, "spool"),
      log: { warn() {}, error() {} },
    });
    await replayer.close(); // replays the spool once, then closes the store
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    try {
      const { rows } = await db.query(
        `select request_id, alias, deployment, prompt_tokens, completion_tokens, actual_cost_usd from ${PG_SCHEMA}.usage_records where request_id = any($1)`,
        [ids],
      );
      expect(rows.map((r) => r.request_id as string).sort()).toEqual([...ids].sort());
      for (const r of rows) {
        expect(r).toMatchObject({
          alias: "chat",
          deployment: "upstream/gpt-4o-mini",
          prompt_tokens: 11,
          completion_tokens: 7,
        });
        expect(Number(r.actual_cost_usd)).toBeCloseTo(0.00000585, 14);
      }
    } finally {
      await db.end();
    }
  });
});
