import type { Context, Hono } from "hono";
import { z } from "zod";
import { DashboardAssets } from "../dashboard/assets.js";
import { budgetRows, type Viewer } from "../dashboard/budgets.js";
import {
  cache,
  DAY_MS,
  type DashboardSources,
  models,
  overview,
  requests,
  timeseries,
  whoami,
} from "../dashboard/data.js";
import { GatewayError } from "../errors.js";
import { requestIdFrom } from "./exchange.js";
import { jsonResponse, parseQuery } from "./http.js";
import { type ReaderAuth, readableTeam, readerOf } from "./reader.js";

/** With auth on: a team key reads only its team; the master key reads everything (and may pick a team). */
export interface DashboardApiDeps extends DashboardSources, ReaderAuth {
  now?: () => number;
}

const Days = z.coerce.number().int().min(1).max(400);
const QuerySchema = z
  .object({
    team: z.string().min(1).optional(),
    days: Days.optional(),
    by: z.enum(["team", "model", "key", "alias", "none"]).optional(),
    bucket: z.enum(["day", "hour"]).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    before: z.coerce.number().int().positive().optional(),
  })
  .strict();
type Query = z.infer<typeof QuerySchema>;

/**
 * `GET /dashboard` (the page and its allow-listed files) and its JSON under `/api/dashboard/*`: whoami, overview,
 * timeseries, budgets, models, cache, requests. Scoping is decided here, on the server: a team key's answers
 * cover its team only, whatever the page asks.
 */
export function mountDashboardApi(app: Hono, deps: DashboardApiDeps): void {
  const assets = new DashboardAssets();
  const now = deps.now ?? Date.now;
  const idOf = (c: Context) => requestIdFrom(c.req.header("x-request-id"));

  const serve = async (c: Context, name: string) => {
    const asset = await assets.get(name);
    if (asset === undefined) {
      throw new GatewayError(`No dashboard file '${name}'.`, {
        status: 404,
        type: "not_found_error",
        code: "not_found",
      });
    }
    return new Response(asset.body, {
      status: 200,
      headers: { ...asset.headers, "content-type": asset.type, "x-request-id": idOf(c) },
    });
  };
  app.get("/dashboard", (c) => serve(c, "index.html"));
  app.get("/dashboard/", (c) => serve(c, "index.html"));
  app.get("/dashboard/:name{.+}", (c) => serve(c, c.req.param("name")));

  const reader = readerOf(deps);
  const viewerOf = async (c: Context, q: Query): Promise<Viewer> => ({
    teamId: readableTeam(await reader(c), q.team, "dashboard"),
  });
  const json = (c: Context, body: unknown) =>
    jsonResponse(200, JSON.stringify(body), { "x-request-id": idOf(c), "cache-control": "no-store" });
  const route = (path: string, view: (viewer: Viewer, q: Query, nowMs: number) => Promise<unknown>) => {
    app.get(`/api/dashboard/${path}`, async (c) => {
      const q = parseQuery(c.req.query(), QuerySchema);
      const viewer = await viewerOf(c, q);
      return json(c, await view(viewer, q, now()));
    });
  };

  route("whoami", (viewer) => whoami(deps, viewer));
  route("overview", (viewer, _q, nowMs) => overview(deps, viewer, nowMs));
  route("timeseries", (viewer, q, nowMs) =>
    timeseries(deps, viewer, nowMs, {
      days: q.days ?? 56,
      by: q.by ?? "none",
      bucketMs: q.bucket === "hour" ? DAY_MS / 24 : DAY_MS,
    }),
  );
  route("budgets", async (viewer, _q, nowMs) => ({
    object: "list",
    forecasts: deps.forecasts !== undefined,
    data: await budgetRows(deps, viewer, nowMs),
  }));
  route("models", (viewer, q, nowMs) => models(deps, viewer, nowMs, q.days ?? 7));
  route("cache", (viewer, q, nowMs) => cache(deps, viewer, nowMs, q.days ?? 30));
  route("requests", (viewer, q) => requests(deps, viewer, { limit: q.limit ?? 100, beforeMs: q.before }));
}
