import type { CostEngine, Prediction } from "../../cost/engine.js";
import { GatewayError } from "../../errors.js";
import type { Usage } from "../../openai/schema.js";
import type { RoutingTable } from "../../routing/table.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";

export const COST_ESTIMATE_HEADER = "x-tollgate-cost-estimate";

/**
 * Before the call: prompt tokens counted and completion tokens predicted, priced for every deployment the
 * alias may use (the budget stage reserves the highest upper bound, whichever deployment routing picks).
 * The estimate header names the chosen deployment's expected cost once routing has chosen.
 */
export function predictStage(engine: CostEngine, table: RoutingTable, unknownPrice: "block" | "allow"): NamedStage {
  const pricer = (ctx: RequestContext, usage: Usage) =>
    ctx.deployment ? engine.costOf(ctx.deployment, usage) : undefined;
  return {
    name: "predict",
    run: async (ctx, next) => {
      ctx.pricer = pricer;
      const route = table.get(ctx.alias);
      if (route === undefined || ctx.chat === undefined) return next(); // 404 from route; embeddings priced after
      const candidates = route.reachable;
      const prediction = await engine.predict(ctx.chat, ctx.alias, ctx.identity?.keyId, candidates);
      ctx.prediction = prediction;
      const upper = highest(prediction, "upperCostUsd");
      const expected = highest(prediction, "costUsd");
      if (expected === undefined && unknownPrice === "block") throw priceUnknown(ctx.alias, candidates);
      ctx.estimate = {
        promptTokens: prediction.deployments[0]?.promptTokens ?? prediction.tiktokenTokens,
        completionTokens: prediction.completionTokens,
        costUsd: expected ?? 0,
        upperCostUsd: upper ?? 0,
        priced: expected !== undefined,
      };
      if (expected !== undefined) ctx.setHeader(COST_ESTIMATE_HEADER, formatUsd(expected));
      try {
        await next();
      } finally {
        const chosen = ctx.deployment && prediction.deployments.find((d) => d.deploymentId === ctx.deployment?.id);
        if (chosen?.costUsd !== undefined) {
          ctx.estimate.costUsd = chosen.costUsd;
          ctx.estimate.promptTokens = chosen.promptTokens;
          ctx.setHeader(COST_ESTIMATE_HEADER, formatUsd(chosen.costUsd));
        }
      }
    },
  };
}

function highest(p: Prediction, field: "costUsd" | "upperCostUsd"): number | undefined {
  let max: number | undefined;
  for (const d of p.deployments) {
    const v = d[field];
    if (v !== undefined && (max === undefined || v > max)) max = v;
  }
  return max;
}

/** USD with enough digits for a one-token call (fractions of a micro-dollar), no exponent. */
export function formatUsd(usd: number): string {
  const text = usd.toFixed(10);
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x30) end--; // trailing zeros
  return text.charCodeAt(end - 1) === 0x2e ? text.slice(0, end + 1) : text.slice(0, end);
}

function priceUnknown(alias: string, deployments: readonly { id: string }[]): GatewayError {
  return new GatewayError(
    `No price is known for model '${alias}' (${deployments.map((d) => d.id).join(", ")}), and pricing.unknown_price is "block". Add a price override (pricing/overrides.yaml or the deployment's price in routes.yaml).`,
    { status: 403, type: "permission_error", param: "model", code: "price_unknown" },
  );
}
