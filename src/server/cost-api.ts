import type { Context, Hono } from "hono";
import { z } from "zod";
import type { KeyService } from "../auth/index.js";
import type { CostEngine } from "../cost/engine.js";
import { GatewayError } from "../errors.js";
import { type ChatCompletionRequest, ChatCompletionRequestSchema } from "../openai/schema.js";
import type { ModelInfo, Pricing } from "../pricing/index.js";
import type { RoutingTable } from "../routing/table.js";
import type { Store } from "../store/index.js";
import { queryUsage, toCsv, type UsageGroupBy } from "../usage/index.js";
import { requestIdFrom } from "./exchange.js";
import { jsonResponse, parseBody, parseQuery } from "./http.js";
import { readableTeam, readerOf } from "./reader.js";

export interface CostApiDeps {
  table: RoutingTable;
  pricing: Pricing;
  engine: CostEngine;
  store: Store;
  /** Sends one chat completion through the whole pipeline (for /api/send_prompt). */
  sendChat(body: string): Promise<Response>;
  /** With auth on: every route needs a key; a team key reads only its team's usage, the master key any. */
  keys?: KeyService;
  masterKey?: string | undefined;
}

const GROUP_BY = ["day", "hour", "key", "team", "model", "provider"] as const;

const UsageQuerySchema = z
  .object({
    from: z.string().optional(),
    to: z.string().optional(),
    key: z.string().optional(),
    team: z.string().optional(),
    org: z.string().optional(),
    alias: z.string().optional(),
    provider: z.string().optional(),
    group_by: z.enum(GROUP_BY).optional(),
    format: z.enum(["json", "csv"]).optional(),
  })
  .strict();

const EstimateSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(z.unknown()).optional(),
  prompt: z.string().optional(),
  models: z.array(z.string().min(1)).optional(),
  max_tokens: z.number().int().positive().optional(),
});

const PromptSchema = z
  .object({
    prompt: z.string().min(1),
    model_names: z.array(z.string().min(1)).optional(),
    providers: z.array(z.string().min(1)).optional(),
    max_tokens: z.number().int().positive().optional(),
  })
  .strict();

/** A candidate priced for a request: an alias of routes.yaml, or a model of the price database. */
interface Candidate {
  model: string;
  provider: string;
  deployment: string | undefined;
  promptTokens: number;
  completionTokens: number;
  costUsd: number | undefined;
  upperCostUsd: number | undefined;
  info: ModelInfo | undefined;
}

/** Usage queries and the price runner: `/v1/usage`, `/v1/cost/estimate` and the `/api/*` compatibility routes. */
export function mountCostApi(app: Hono, deps: CostApiDeps): void {
  const { table, pricing, engine, store } = deps;
  const idOf = (c: Context) => requestIdFrom(c.req.header("x-request-id"));
  const reader = readerOf(deps);
  app.use("/v1/usage/*", async (c, next) => {
    await reader(c);
    await next();
  });
  app.use("/v1/cost/*", async (c, next) => {
    await reader(c);
    await next();
  });
  app.use("/api/*", async (c, next) => {
    await reader(c);
    await next();
  });
  const json = (c: Context, body: unknown, status = 200) =>
    jsonResponse(status, JSON.stringify(body), { "x-request-id": idOf(c) });

  app.get("/v1/usage", async (c) => {
    const q = parseQuery(c.req.query(), UsageQuerySchema);
    const teamId = readableTeam(await reader(c), q.team, "usage");
    const groupBy = q.group_by as UsageGroupBy | undefined;
    const rows = await queryUsage(store, {
      from: time(q.from, "from"),
      to: time(q.to, "to"),
      keyId: q.key,
      teamId,
      orgId: q.org,
      alias: q.alias,
      provider: q.provider,
      groupBy,
    });
    const wantsCsv = q.format === "csv" || (q.format === undefined && c.req.header("accept")?.startsWith("text/csv"));
    if (wantsCsv) {
      return new Response(toCsv(rows), {
        status: 200,
        headers: { "content-type": "text/csv; charset=utf-8", "x-request-id": idOf(c) },
      });
    }
    return json(c, { object: "list", group_by: groupBy ?? null, data: rows });
  });

  // How far the estimates before the call were from the actual usage, per model (prompt tokens and cost).
  app.get("/v1/usage/accuracy", (c) => json(c, { object: "prediction_accuracy", models: engine.accuracy.summary() }));

  app.post("/v1/cost/estimate", async (c) => {
    const body = parseBody(await c.req.text(), EstimateSchema);
    const request = asChatRequest(body);
    const names = body.models ?? (body.model ? [body.model] : [...table.keys()]);
    const ranked = await rank(names, request);
    return json(c, { object: "list", data: ranked.map(estimateRow) });
  });

  app.get("/api/models", (c) => json(c, { models: pricing.models().map(modelRow) }));
  app.get("/api/models/provider/:provider", (c) => {
    const provider = c.req.param("provider");
    return json(c, {
      provider,
      models: pricing
        .models()
        .filter((m) => m.provider === provider)
        .map(modelRow),
    });
  });
  app.get("/api/providers", (c) => json(c, { providers: pricing.providers() }));

  app.post("/api/get_best_price_for_prompt", async (c) => {
    const body = parseBody(await c.req.text(), PromptSchema);
    const ranked = await rank(candidateNames(body), promptRequest(body));
    return json(c, {
      prompt_tokens: ranked[0]?.promptTokens ?? 0,
      results: ranked.map((r) => ({
        model: r.model,
        provider: r.provider,
        estimated_tokens: { input: r.promptTokens, output: r.completionTokens },
        price_per_token: r.info
          ? { input: r.info.inputPerMTok / 1e6, output: r.info.outputPerMTok / 1e6 }
          : { input: null, output: null },
        total_cost: r.costUsd ?? null,
        quality_score: r.info?.quality?.score ?? null,
      })),
    });
  });

  app.post("/api/send_prompt", async (c) => {
    const body = parseBody(await c.req.text(), PromptSchema);
    const aliases = body.model_names ?? [...table.keys()];
    const unknown = aliases.filter((a) => !table.has(a));
    if (unknown.length)
      throw badRequest(
        `model_names: unknown model(s) ${unknown.join(", ")}; send_prompt calls the aliases of routes.yaml`,
        "model_names",
      );
    const chosen = body.providers
      ? aliases.filter((a) => table.get(a)?.deployments.some((d) => body.providers?.includes(d.provider.type)))
      : aliases;
    // One failure does not fail the others: each answer carries its own success.
    const results = await Promise.all(
      chosen.map(async (alias) => {
        const started = performance.now();
        const messages = [{ role: "user", content: body.prompt }];
        const res = await deps.sendChat(JSON.stringify({ model: alias, messages, max_tokens: body.max_tokens }));
        const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
        const answer = (await res.json()) as {
          choices?: { message?: { content?: string } }[];
          usage?: { cost?: number };
          error?: { message: string };
        };
        return {
          model: alias,
          success: res.ok,
          response: answer.choices?.[0]?.message?.content ?? null,
          cost: answer.usage?.cost ?? null,
          latency_ms: latencyMs,
          error: res.ok ? null : (answer.error?.message ?? `HTTP ${res.status}`),
        };
      }),
    );
    return json(c, { results });
  });

  /** Prices each name for the request, cheapest first (unknown prices last). */
  async function rank(names: readonly string[], request: ChatCompletionRequest): Promise<Candidate[]> {
    const out: Candidate[] = [];
    for (const name of names) {
      const route = table.get(name);
      if (route) {
        const p = await engine.predict(request, name, undefined, route.deployments);
        route.deployments.forEach((d, i) => {
          const e = p.deployments[i];
          out.push({
            model: name,
            provider: d.provider.type,
            deployment: d.id,
            promptTokens: e?.promptTokens ?? p.tiktokenTokens,
            completionTokens: p.completionTokens,
            costUsd: e?.costUsd,
            upperCostUsd: e?.upperCostUsd,
            info: pricing.model(d.provider.type, d.upstreamModel),
          });
        });
        continue;
      }
      const info = findModel(pricing, name);
      if (info === undefined)
        throw badRequest(`models: unknown model '${name}' (neither an alias nor a priced model)`, "models");
      const pseudo = {
        id: `${info.provider}/${info.model}`,
        upstreamModel: info.model,
        region: undefined,
        provider: { type: info.provider },
      };
      const p = await engine.predict(request, name, undefined, [pseudo]);
      const e = p.deployments[0];
      out.push({
        model: name,
        provider: info.provider,
        deployment: undefined,
        promptTokens: e?.promptTokens ?? p.tiktokenTokens,
        completionTokens: p.completionTokens,
        costUsd: e?.costUsd,
        upperCostUsd: e?.upperCostUsd,
        info,
      });
    }
    return out.sort((a, b) => (a.costUsd ?? Number.POSITIVE_INFINITY) - (b.costUsd ?? Number.POSITIVE_INFINITY));
  }

  function candidateNames(body: z.infer<typeof PromptSchema>): string[] {
    const byProvider = (m: ModelInfo) => body.providers === undefined || body.providers.includes(m.provider);
    if (body.model_names) return body.model_names;
    return pricing
      .models()
      .filter(byProvider)
      .map((m) => `${m.provider}/${m.model}`);
  }
}

function estimateRow(r: Candidate) {
  const window = r.info?.contextWindow;
  return {
    model: r.model,
    provider: r.provider,
    deployment: r.deployment ?? null,
    estimated_prompt_tokens: r.promptTokens,
    estimated_completion_tokens: r.completionTokens,
    estimated_cost_usd: r.costUsd ?? null,
    max_cost_usd: r.upperCostUsd ?? null,
    quality: r.info?.quality ?? null,
    context_window: window ?? null,
    fits_context: window === undefined ? null : r.promptTokens + r.completionTokens <= window,
    observed_latency_ms: null, // filled once latency-aware routing keeps its figures
  };
}

function modelRow(m: ModelInfo) {
  return {
    id: `${m.provider}/${m.model}`,
    provider: m.provider,
    model: m.model,
    input_per_mtok: m.inputPerMTok,
    output_per_mtok: m.outputPerMTok,
    cache_read_per_mtok: m.cacheReadPerMTok ?? null,
    cache_write_per_mtok: m.cacheWritePerMTok ?? null,
    context_window: m.contextWindow ?? null,
    max_output: m.maxOutput ?? null,
    capabilities: m.capabilities,
    quality: m.quality ?? null,
    source: m.source,
  };
}

/** `provider/model` or a bare model name, as the price database knows it. */
function findModel(pricing: Pricing, name: string): ModelInfo | undefined {
  const slash = name.indexOf("/");
  if (slash > 0) {
    const found = pricing.model(name.slice(0, slash), name.slice(slash + 1));
    if (found) return found;
  }
  for (const provider of ["openai", "anthropic", "gemini", "bedrock", "azure"]) {
    const found = pricing.model(provider, name);
    if (found) return found;
  }
  return undefined;
}

function asChatRequest(body: z.infer<typeof EstimateSchema>): ChatCompletionRequest {
  if (body.messages) {
    const parsed = ChatCompletionRequestSchema.safeParse({ ...body, model: body.model ?? "estimate" });
    if (!parsed.success) throw badRequest(`messages: ${parsed.error.issues[0]?.message ?? "invalid"}`, "messages");
    return parsed.data;
  }
  if (body.prompt !== undefined) return promptRequest({ prompt: body.prompt, max_tokens: body.max_tokens });
  throw badRequest("expected a chat completion request (messages) or {prompt}", "messages");
}

function promptRequest(body: { prompt: string; max_tokens?: number | undefined }): ChatCompletionRequest {
  return ChatCompletionRequestSchema.parse({
    model: "estimate",
    messages: [{ role: "user", content: body.prompt }],
    ...(body.max_tokens ? { max_tokens: body.max_tokens } : {}),
  });
}

/** An ISO date or epoch milliseconds. */
function time(value: string | undefined, param: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(`${param}: expected an ISO date or epoch milliseconds, got "${value}"`, param);
  return ms;
}

function badRequest(message: string, param: string): GatewayError {
  return new GatewayError(message, { status: 400, type: "invalid_request_error", param, code: "invalid_value" });
}
