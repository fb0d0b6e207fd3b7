import { GatewayError } from "../../errors.js";
import type { ChatCompletionRequest } from "../../openai/schema.js";
import { StrategySchema } from "../../routing/config.js";
import type { RoutePlan, Router, RoutingRequest } from "../../routing/router.js";
import type { RuleFacts, RuleSet } from "../../routing/rules.js";
import type { RoutingTable } from "../../routing/table.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";

export const ROUTE_HEADER = "x-tollgate-route";
export const MAX_COST_HEADER = "x-tollgate-max-cost";

export interface RouteStageOptions {
  table: RoutingTable;
  /** Absent in unit tests: plain weighted choice over available deployments. */
  router?: Router;
  rules?: RuleSet;
  /** The request header naming the caller's region, and the region when nothing names one. */
  regionHeader?: string;
  defaultRegion?: string;
}

/**
 * Resolves the alias (after the routing rules: deny, route elsewhere, force a strategy, cap the cost) and
 * orders its deployments: eligibility filters, then the alias's strategy. The resilience stage tries them in
 * that order. `x-tollgate-route` says what was chosen and why.
 */
export function routeStage(options: RouteStageOptions): NamedStage {
  const { table, router, rules } = options;
  const regionHeader = options.regionHeader ?? "x-tollgate-region";
  return {
    name: "route",
    run: (ctx, next) => {
      const match = rules && rules.size > 0 ? rules.match(factsOf(ctx)) : undefined;
      const action = match?.action;
      if (action?.deny) {
        throw new GatewayError(action.deny.message, {
          status: action.deny.status,
          type:
            action.deny.status === 429
              ? "rate_limit_error"
              : action.deny.status === 400
                ? "invalid_request_error"
                : "permission_error",
          code: "denied_by_rule",
        });
      }
      if (action?.routeTo !== undefined) ctx.alias = action.routeTo;
      const route = table.get(ctx.alias);
      if (route === undefined) throw modelNotFound(ctx.alias);
      ctx.route = route;
      if (router === undefined) {
        const pick = route.picker?.pick() ?? route.deployments[0];
        ctx.deployment = pick;
        ctx.candidates = pick ? [pick] : [];
        ctx.routeDecision = {
          strategy: "weighted",
          candidates: route.picker?.items.length ?? 0,
          reason: "weighted random",
        };
        return next();
      }
      const aliasConfig = router.aliasConfig(ctx.alias);
      const tags = ctx.key?.tags;
      ctx.maxCostUsd = headerCost(ctx) ?? action?.maxCostUsd ?? tagCost(tags) ?? aliasConfig?.max_cost_usd;
      const strategy = action?.strategy ?? tagStrategy(tags);
      const request = routingRequest(ctx, strategy, regionOf(ctx, regionHeader, options.defaultRegion));
      let plan = router.plan(ctx.alias, request);
      if (plan === undefined) throw modelNotFound(ctx.alias);
      const rule = match ? `rule ${match.name}; ` : "";
      if (plan.ordered.length === 0 && plan.excluded.every((e) => e.kind === "context_window")) {
        // Too long for every deployment: the alias's larger-context fallbacks, before any call fails.
        for (const alias of aliasConfig?.fallbacks.context_window ?? []) {
          const larger = router.plan(alias, request);
          if (larger === undefined || larger.ordered.length === 0) continue;
          ctx.setHeader("x-tollgate-fallback", `${ctx.alias} -> ${alias} (context_window)`);
          ctx.alias = alias;
          ctx.route = larger.route;
          plan = larger;
          break;
        }
      }
      if (plan.ordered.length === 0) {
        // Only unconfigured providers: call one anyway, so the client learns which variable to set.
        if (plan.excluded.length > 0 && plan.excluded.every((e) => e.kind === "unavailable") && route.deployments[0]) {
          plan.ordered.push(route.deployments[0]);
        } else throw noDeployment(ctx.alias, plan);
      }
      ctx.candidates = plan.ordered;
      ctx.deployment = plan.ordered[0];
      ctx.routeDecision = { strategy: plan.strategy, candidates: plan.ordered.length, reason: `${rule}${plan.reason}` };
      if (plan.excluded.length > 0) ctx.routeDecision.excluded = plan.excluded;
      if (match) ctx.routeDecision.rule = match.name;
      ctx.setHeader(
        ROUTE_HEADER,
        `alias=${ctx.alias}; deployment=${ctx.deployment?.id}; strategy=${plan.strategy}; reason=${rule}${plan.reason}`,
      );
      return next();
    },
  };
}

/** The routing inputs of a request, from what the earlier stages found. */
export function routingRequest(
  ctx: RequestContext,
  strategy: RoutingRequest["strategy"],
  region: string | undefined,
): RoutingRequest {
  const chat = ctx.chat;
  const prediction = ctx.prediction;
  return {
    estimate: (id) => {
      const d = prediction?.deployments.find((e) => e.deploymentId === id);
      return d ? { promptTokens: d.promptTokens, costUsd: d.costUsd } : undefined;
    },
    maxCompletionTokens: chat?.max_completion_tokens ?? chat?.max_tokens ?? 0,
    needs: {
      tools: (chat?.tools?.length ?? 0) > 0,
      vision: chat ? hasImages(chat) : false,
      jsonMode: isJsonMode(chat?.response_format),
    },
    region,
    maxCostUsd: ctx.maxCostUsd,
    strategy,
    droppedProviders: ctx.guardrails?.droppedProviders,
    latencyTargets: ctx.guardrails?.latencyTargets,
  };
}

function regionOf(ctx: RequestContext, header: string, fallback: string | undefined): string | undefined {
  return ctx.headers?.header(header) ?? ctx.key?.tags.region ?? fallback;
}

/** A key's own routing settings live in its tags: `strategy` (a strategy or mode) and `max_cost_usd`. */
function tagStrategy(tags: Readonly<Record<string, string>> | undefined): RoutingRequest["strategy"] {
  const name = tags?.strategy;
  if (name === undefined) return undefined;
  const parsed = StrategySchema.safeParse(name);
  return parsed.success ? parsed.data : undefined;
}

function tagCost(tags: Readonly<Record<string, string>> | undefined): number | undefined {
  const value = tags?.max_cost_usd === undefined ? Number.NaN : Number(tags.max_cost_usd);
  return value > 0 ? value : undefined;
}

function headerCost(ctx: RequestContext): number | undefined {
  const text = ctx.headers?.header(MAX_COST_HEADER);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new GatewayError(`${MAX_COST_HEADER} must be a positive number of USD, got "${text}"`, {
      status: 400,
      type: "invalid_request_error",
      code: "invalid_max_cost",
    });
  }
  return value;
}

/** What the routing rules see of a request. */
export function factsOf(ctx: RequestContext): RuleFacts {
  const chat = ctx.chat;
  const identity = ctx.identity;
  const headers = ctx.headers;
  const facts: RuleFacts = {
    alias: ctx.alias,
    headers: headers ? (name) => headers.header(name) : () => undefined,
    hasTools: (chat?.tools?.length ?? 0) > 0,
    hasImages: chat ? hasImages(chat) : false,
    now: Date.now(),
  };
  if (identity?.keyId) facts.keyId = identity.keyId;
  if (identity?.teamId) facts.teamId = identity.teamId;
  if (identity?.orgId) facts.orgId = identity.orgId;
  if (typeof chat?.user === "string") facts.user = chat.user;
  if (ctx.key?.tags) facts.tags = ctx.key.tags;
  if (ctx.estimate) {
    facts.promptTokens = ctx.estimate.promptTokens;
    facts.costUsd = ctx.estimate.costUsd;
  }
  return facts;
}

function isJsonMode(format: unknown): boolean {
  const type = (format as { type?: unknown } | null | undefined)?.type;
  return type === "json_object" || type === "json_schema";
}

function hasImages(chat: ChatCompletionRequest): boolean {
  for (const m of chat.messages) {
    const content = (m as { content?: unknown }).content;
    if (!Array.isArray(content)) continue;
    for (const part of content) if ((part as { type?: string }).type === "image_url") return true;
  }
  return false;
}

function noDeployment(alias: string, plan: RoutePlan): GatewayError {
  const why = plan.excluded.map((e) => `${e.id}: ${e.why}`).join("; ") || plan.reason;
  const excluded = plan.excluded;
  if (excluded.length > 0 && excluded.every((e) => e.kind === "context_window")) {
    return new GatewayError(
      `No deployment of '${alias}' has a context window large enough for this request (${why}).`,
      {
        status: 400,
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    );
  }
  const health = excluded.filter((e) => e.kind === "health");
  const soonest = Math.min(...health.map((e) => e.untilMs || Number.POSITIVE_INFINITY));
  const retryAfter = String(Number.isFinite(soonest) ? Math.max(1, Math.ceil((soonest - Date.now()) / 1000)) : 1);
  if (health.length > 0 && health.length === excluded.length && health.some((e) => e.coolingDown)) {
    // The upstream's own rate limit, held for its retry-after: the client hears it as the 429 it was.
    return new GatewayError(
      `Rate limit reached upstream for '${alias}' (${why}). Please try again in ${retryAfter}s.`,
      {
        status: 429,
        type: "rate_limit_error",
        code: "rate_limit_exceeded",
        headers: { "retry-after": retryAfter },
      },
    );
  }
  return new GatewayError(`No deployment of '${alias}' can serve this request now (${why}).`, {
    status: 503,
    type: "api_error",
    code: "no_deployment_available",
    headers: { "retry-after": retryAfter },
  });
}

export function modelNotFound(alias: string): GatewayError {
  return new GatewayError(`The model '${alias}' does not exist or you do not have access to it.`, {
    status: 404,
    type: "invalid_request_error",
    param: "model",
    code: "model_not_found",
  });
}
