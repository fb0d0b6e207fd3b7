import type { Hono } from "hono";
import { z } from "zod";
import { BudgetStore } from "../admin/budget-store.js";
import type { KeyService } from "../auth/index.js";
import type { Config } from "../config/schema.js";
import { GatewayError } from "../errors.js";
import { gatherInput, type InsightSources } from "../insights/inputs.js";
import { type RecommendationOptions, recommend, round6 } from "../insights/recommendations.js";
import { requestIdFrom } from "./exchange.js";
import { errorResponse, jsonResponse, parseQuery } from "./http.js";
import { readableTeam, readerOf } from "./reader.js";

export interface RecommendationsApiDeps extends Omit<InsightSources, "config" | "budgetDefinitions" | "keyTeams"> {
  config: Pick<Config, "models" | "cache" | "budgets">;
  /** Defaults to routes.yaml's budgets plus those stored through the admin API. */
  budgetDefinitions?: InsightSources["budgetDefinitions"];
  /** With auth on: the master key reads every recommendation, a team key only its team's. */
  keys?: KeyService;
  masterKey?: string | undefined;
  options?: Partial<RecommendationOptions>;
  /** An answer is reused this long per team (and for the admin's view). Default 60 s; 0: computed every call. */
  memoMs?: number;
  now?: () => number;
}

// Bounds the memo: the admin's ?team= can name any string.
const MAX_MEMO = 256;

const QuerySchema = z.object({ team: z.string().min(1).optional() }).strict();

/**
 * `GET /api/recommendations[?team=<id>]`: priced suggestions from the last 30 days of the ledger, most saving
 * first. The master key (or open mode) sees all traffic and budgets, or one team's with `team`; a team key sees
 * its own team's only.
 */
export function mountRecommendationsApi(app: Hono, deps: RecommendationsApiDeps): void {
  const { store, config } = deps;
  const budgetStore = new BudgetStore(store);
  const sources: InsightSources = {
    store,
    table: deps.table,
    pricing: deps.pricing,
    config,
    budgetDefinitions:
      deps.budgetDefinitions ??
      (async () => [...config.budgets.definitions, ...(await budgetStore.list()).map((b) => b.definition)]),
    ...(deps.utilization ? { utilization: deps.utilization } : {}),
    ...(deps.keys ? { keyTeams: keyTeamsOf(deps.keys) } : {}),
  };
  const now = deps.now ?? Date.now;
  const memoMs = deps.memoMs ?? 60_000;
  // On SQLite the aggregates run synchronously on the event loop: a dashboard polling this must not redo them.
  const memo = new Map<string, { at: number; body: string }>();
  const answer = async (teamId: string | undefined): Promise<string> => {
    const key = teamId ?? "";
    const at = now();
    const kept = memo.get(key);
    if (kept !== undefined && at - kept.at < memoMs) return kept.body;
    const input = await gatherInput(sources, teamId, at);
    const data = recommend(input, deps.options);
    const body = JSON.stringify({ object: "list", team: teamId ?? null, window_days: round6(input.windowDays), data });
    if (memoMs > 0) {
      if (memo.size >= MAX_MEMO) memo.clear();
      memo.set(key, { at, body });
    }
    return body;
  };

  const reader = readerOf(deps);
  app.get("/api/recommendations", async (c) => {
    const requestId = requestIdFrom(c.req.header("x-request-id"));
    try {
      const who = await reader(c);
      const teamId = readableTeam(who, parseQuery(c.req.query(), QuerySchema).team, "recommendations");
      return jsonResponse(200, await answer(teamId), { "x-request-id": requestId });
    } catch (err) {
      // Mapped here so the route answers OpenAI-style JSON on any app it is mounted on.
      if (err instanceof GatewayError) return errorResponse(err, requestId);
      throw err;
    }
  });
}

function keyTeamsOf(keys: KeyService): () => Promise<ReadonlyMap<string, string>> {
  return async () => new Map((await keys.listKeys()).map((k) => [k.id, k.teamId]));
}
