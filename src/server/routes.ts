import { type Context, Hono } from "hono";
import { type AdminApiDeps, mountAdminApi } from "../admin/api.js";
import type { Metrics } from "../metrics/index.js";
import { modelNotFound } from "../pipeline/stages/route.js";
import type { RoutingTable } from "../routing/table.js";
import { type AnomalyApiDeps, mountAnomalyApi } from "./anomaly-api.js";
import { type CostApiDeps, mountCostApi } from "./cost-api.js";
import { type DashboardApiDeps, mountDashboardApi } from "./dashboard-api.js";
import { requestIdFrom, WebExchange } from "./exchange.js";
import { type ForecastApiDeps, mountForecastApi } from "./forecast-api.js";
import { errorResponse, jsonResponse } from "./http.js";
import type { ModelCallHandler } from "./model-call.js";
import { mountRecommendationsApi, type RecommendationsApiDeps } from "./recommendations-api.js";
import { mountRoutingApi, type RoutingApiDeps } from "./routing-api.js";

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface ServerDeps {
  table: RoutingTable;
  metrics: Metrics;
  readiness: readonly ReadinessCheck[];
  handleModelCall: ModelCallHandler;
  /** Usage queries and the price runner; absent in unit tests of the bare server. */
  cost?: Omit<CostApiDeps, "sendChat">;
  /** The admin API (/admin/*), authorised by the master key. */
  admin?: AdminApiDeps;
  /** Routing's endpoints (performance, rebalance, explain); mounted after the cost API's /api key check. */
  routing?: RoutingApiDeps;
  /** Priced suggestions (GET /api/recommendations), scoped like the other /api routes. */
  recommendations?: RecommendationsApiDeps;
  /** Open anomalies and watched scopes (GET /api/anomalies). */
  anomalies?: AnomalyApiDeps;
  /** Spend forecasts per budget scope (GET /api/forecasts, POST /api/forecasts/refresh). */
  forecasts?: ForecastApiDeps;
  /** The built-in dashboard (/dashboard) and its JSON (/api/dashboard/*). */
  dashboard?: DashboardApiDeps;
  onUnhandledError(err: unknown, path: string): void;
}

/** Every route, in hono. Under node the model calls arrive through the fast lane in listener.ts instead. */
export function createHttpApp(deps: ServerDeps): Hono {
  const { table, metrics, handleModelCall } = deps;
  const modelList = JSON.stringify({ object: "list", data: [...table.values()].map(modelObject) });
  const idOf = (c: Context) => requestIdFrom(c.req.header("x-request-id"));

  const app = new Hono();
  app.post("/v1/chat/completions", (c) => handleModelCall(new WebExchange(c), "chat"));
  app.post("/v1/embeddings", (c) => handleModelCall(new WebExchange(c), "embeddings"));

  app.get("/v1/models", (c) => jsonResponse(200, modelList, { "x-request-id": idOf(c) }));
  app.get("/v1/models/:id{.+}", (c) => {
    const requestId = idOf(c);
    const route = table.get(c.req.param("id"));
    if (route === undefined) return errorResponse(modelNotFound(c.req.param("id")), requestId);
    return jsonResponse(200, JSON.stringify(modelObject(route)), { "x-request-id": requestId });
  });

  if (deps.admin) mountAdminApi(app, deps.admin);
  if (deps.cost) {
    mountCostApi(app, {
      ...deps.cost,
      sendChat: (body) =>
        Promise.resolve(
          app.request("/v1/chat/completions", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
          }),
        ),
    });
  }
  if (deps.routing) mountRoutingApi(app, deps.routing);
  if (deps.recommendations) mountRecommendationsApi(app, deps.recommendations);
  if (deps.forecasts) mountForecastApi(app, deps.forecasts);
  if (deps.anomalies) mountAnomalyApi(app, deps.anomalies);
  if (deps.dashboard) mountDashboardApi(app, deps.dashboard);

  app.get("/health", (c) => jsonResponse(200, '{"status":"ok"}', { "x-request-id": idOf(c) }));
  app.get("/ready", async (c) => {
    const checks: Record<string, string> = { config: "ok" };
    let ready = true;
    for (const probe of deps.readiness) {
      try {
        await probe.check();
        checks[probe.name] = "ok";
      } catch (err) {
        ready = false;
        checks[probe.name] = (err as Error).message;
      }
    }
    const body = JSON.stringify({ status: ready ? "ready" : "not_ready", checks });
    return jsonResponse(ready ? 200 : 503, body, { "x-request-id": idOf(c) });
  });
  app.get("/metrics", async (c) => {
    const text = await metrics.registry.metrics();
    const headers = { "content-type": metrics.registry.contentType, "x-request-id": idOf(c) };
    return new Response(text, { status: 200, headers });
  });

  app.notFound((c) =>
    jsonResponse(
      404,
      JSON.stringify({
        error: {
          message: `Unknown request URL: ${c.req.method} ${c.req.path}.`,
          type: "invalid_request_error",
          param: null,
          code: "unknown_url",
        },
      }),
      { "x-request-id": idOf(c) },
    ),
  );
  app.onError((err, c) => {
    deps.onUnhandledError(err, c.req.path);
    return errorResponse(err, idOf(c));
  });
  return app;
}

function modelObject(route: { alias: string; created: number }) {
  return { id: route.alias, object: "model", created: route.created, owned_by: "tollgate" };
}
