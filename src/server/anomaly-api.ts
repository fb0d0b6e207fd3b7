import type { Hono } from "hono";
import type { AnomalyWatch } from "../insights/anomaly-watch.js";
import { requestIdFrom } from "./exchange.js";
import { jsonResponse } from "./http.js";
import { type ReaderAuth, readerOf } from "./reader.js";

export interface AnomalyApiDeps extends ReaderAuth {
  watch: Pick<AnomalyWatch, "report">;
  /** A team key sees its team's scope and its keys'. */
  teamKeyIds(teamId: string): Promise<string[]>;
}

/** `GET /api/anomalies`: the open anomalies and every watched scope's rates against its baseline. */
export function mountAnomalyApi(app: Hono, deps: AnomalyApiDeps): void {
  const reader = readerOf(deps);
  app.get("/api/anomalies", async (c) => {
    const { teamId } = await reader(c);
    let visible: ((scope: string) => boolean) | undefined;
    if (teamId !== undefined) {
      const scopes = new Set([`team:${teamId}`, ...(await deps.teamKeyIds(teamId)).map((id) => `key:${id}`)]);
      visible = (scope) => scopes.has(scope);
    }
    return jsonResponse(200, JSON.stringify({ object: "anomalies", ...deps.watch.report(visible) }), {
      "x-request-id": requestIdFrom(c.req.header("x-request-id")),
    });
  });
}
