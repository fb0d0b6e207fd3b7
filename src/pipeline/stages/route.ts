import { GatewayError } from "../../errors.js";
import type { RoutingTable } from "../../routing/table.js";
import type { NamedStage } from "../compose.js";

/** Resolves the alias and picks a deployment by weight; later strategies (latency, cost, geo) replace the pick. */
export function routeStage(table: RoutingTable): NamedStage {
  return {
    name: "route",
    run: (ctx, next) => {
      const route = table.get(ctx.alias);
      if (route === undefined) throw modelNotFound(ctx.alias);
      ctx.route = route;
      const picker = route.picker;
      if (picker === undefined) {
        // Every deployment's provider is unavailable: call one so the client learns what to configure.
        ctx.deployment = route.deployments[0];
        ctx.routeDecision = { strategy: "weighted", candidates: 0, reason: "no available deployment" };
      } else {
        ctx.deployment = picker.pick();
        ctx.routeDecision = { strategy: "weighted", candidates: picker.items.length, reason: "weighted random" };
      }
      return next();
    },
  };
}

export function modelNotFound(alias: string): GatewayError {
  return new GatewayError(`The model '${alias}' does not exist or you do not have access to it.`, {
    status: 404,
    type: "invalid_request_error",
    param: "model",
    code: "model_not_found",
  });
}
