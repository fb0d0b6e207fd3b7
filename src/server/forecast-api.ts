import type { Context, Hono } from "hono";
import { GatewayError } from "../errors.js";
import type { ForecastService, ScopeProjection } from "../forecast/service.js";
import { requestIdFrom } from "./exchange.js";
import { jsonResponse } from "./http.js";
import { type ReaderAuth, readerOf } from "./reader.js";

export interface ForecastApiDeps extends ReaderAuth {
  forecasts: Pick<ForecastService, "scopes" | "refresh">;
}

/**
 * `GET /api/forecasts`: every budget scope's spend to date, forecast to the period end with its band, and the
 * projected breach date of each level (a team key sees its team's and its keys' budgets). `POST
 * /api/forecasts/refresh` refits now: the master key only, since a fit reads the whole ledger.
 */
export function mountForecastApi(app: Hono, deps: ForecastApiDeps): void {
  const reader = readerOf(deps);
  const reply = (c: Context, data: ScopeProjection[]) =>
    jsonResponse(200, JSON.stringify({ object: "list", data }), {
      "x-request-id": requestIdFrom(c.req.header("x-request-id")),
    });
  app.get("/api/forecasts", async (c) => {
    const { teamId } = await reader(c);
    return reply(c, await deps.forecasts.scopes(Date.now(), teamId === undefined ? {} : { teamId }));
  });
  app.post("/api/forecasts/refresh", async (c) => {
    const { teamId } = await reader(c);
    if (teamId !== undefined) {
      throw new GatewayError("Refitting the forecasts needs the master key.", {
        status: 403,
        type: "permission_error",
        code: "admin_only",
      });
    }
    return reply(c, await deps.forecasts.refresh(Date.now()));
  });
}
