import type { Context, Hono } from "hono";
import { ChatCompletionRequestSchema } from "../openai/schema.js";
import { RequestContext } from "../pipeline/context.js";
import type { Pipeline } from "../pipeline/index.js";
import { factsOf } from "../pipeline/stages/route.js";
import type { Router } from "../routing/router.js";
import type { RuleSet } from "../routing/rules.js";
import { requestIdFrom, WebExchange } from "./exchange.js";
import { jsonResponse, parseBody } from "./http.js";

export interface RoutingApiDeps {
  router: Router;
  rules: RuleSet;
  pipeline: Pipeline;
}

/**
 * `GET /api/models/performance`, `POST /api/models/rebalance` and `POST /api/routes/explain`, behind the same
 * key check as the other /api routes (mounted after them).
 */
export function mountRoutingApi(app: Hono, deps: RoutingApiDeps): void {
  const { router, rules, pipeline } = deps;
  const json = (c: Context, body: unknown) =>
    jsonResponse(200, JSON.stringify(body), { "x-request-id": requestIdFrom(c.req.header("x-request-id")) });

  app.get("/api/models/performance", (c) => json(c, { object: "list", data: router.report() }));

  app.post("/api/models/rebalance", (c) => json(c, { object: "rebalance", aliases: router.rebalance() }));

  // The request as the client would send it, with its own headers (key, region, rule headers): the same auth,
  // prediction, rules and eligibility as a real call, without the rate limits, budgets or the call itself.
  app.post("/api/routes/explain", async (c) => {
    const exchange = new WebExchange(c);
    const ctx = new RequestContext(exchange.requestId, "chat", performance.now());
    ctx.authorization = exchange.authorization();
    ctx.headers = exchange;
    ctx.rawBody = await c.req.text();
    const chat = parseBody(ctx.rawBody, ChatCompletionRequestSchema);
    ctx.chat = chat;
    ctx.alias = chat.model;
    ctx.stream = chat.stream === true;
    const requested = ctx.alias;
    await pipeline.explain(ctx);
    const decision = ctx.routeDecision;
    return json(c, {
      object: "route.explanation",
      requested_model: requested,
      alias: ctx.alias,
      rule: decision?.rule ?? null,
      rules_checked: rules.size > 0 ? rules.explain({ ...factsOf(ctx), alias: requested }).checked : [],
      strategy: decision?.strategy ?? null,
      reason: decision?.reason ?? null,
      deployments: (ctx.candidates ?? []).map((d) => d.id),
      excluded: decision?.excluded ?? [],
      estimate: ctx.estimate ?? null,
      max_cost_usd: ctx.maxCostUsd ?? null,
    });
  });
}
