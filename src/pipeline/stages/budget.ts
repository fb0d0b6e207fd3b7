import type { AlertEvent, AlertSender } from "../../alerts/index.js";
import { periodBucket } from "../../budget/periods.js";
import {
  type BudgetBreach,
  type BudgetService,
  type BudgetWarning,
  breachMessage,
  CountersUnavailableError,
} from "../../budget/service.js";
import { GatewayError } from "../../errors.js";
import type { RoutingTable } from "../../routing/table.js";
import type { RequestContext } from "../context.js";
import type { AdmissionCheck } from "./admit.js";

export const BUDGET_WARNING_HEADER = "x-tollgate-budget-warning";
export const DEGRADED_HEADER = "x-tollgate-degraded";

/**
 * The budget stage's log events. budget.breached (and unchecked) at warn; budget.reserved and budget.settled at
 * debug: at info every request's own log line already carries its decision (`budget`), and two more sync log
 * writes per request cost more than the stage itself (measured).
 */
export interface BudgetLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Reserves the predicted maximum cost against every budget that applies (org, team, key, and per alias or
 * provider within them), all or nothing, before the call; settles to the actual cost when the request is over
 * (a stream at its end, an aborted one at what it generated). A hard breach is a 429 the SDKs do not retry.
 */
export function budgetCheck(
  budgets: BudgetService,
  table: RoutingTable,
  log: BudgetLog,
  alerts: AlertSender | undefined,
): AdmissionCheck {
  return {
    name: "budget",
    take: async (ctx) => {
      const estimate = ctx.estimate;
      const identity = ctx.identity;
      if (estimate === undefined || identity === undefined || !budgets.active) return undefined;
      const provider = table.get(ctx.alias)?.deployments[0]?.provider.type ?? "unknown";
      const subject = {
        orgId: identity.orgId,
        teamId: identity.teamId,
        keyId: identity.keyId,
        alias: ctx.alias,
        provider,
      };
      const maxTokens = estimate.promptTokens + (ctx.prediction?.completionUpper ?? estimate.completionTokens);
      let decision: Awaited<ReturnType<BudgetService["reserve"]>>;
      try {
        decision = await budgets.reserve({ ...subject, maxCostUsd: estimate.upperCostUsd, maxTokens });
      } catch (err) {
        if (!(err instanceof CountersUnavailableError)) throw err;
        if (budgets.redisDown === "fail_open") {
          ctx.budgetDecision = "unchecked: budget store unreachable";
          log.warn({ request_id: ctx.requestId }, "budget.unchecked");
          return undefined;
        }
        ctx.budgetDecision = "refused: budget store unreachable";
        throw new GatewayError(
          "Budgets cannot be checked right now (the budget store is unreachable), and hard budgets fail closed. Retry shortly.",
          { status: 503, type: "api_error", code: "budget_unavailable", headers: { "retry-after": "1" } },
        );
      }
      if (!decision.ok) {
        ctx.budgetDecision = `breached: ${decision.breach.level} ${decision.breach.scope}`;
        log.warn(
          // Not `level`: pino's own field, which the budget level would overwrite ("hard" instead of "warn").
          { request_id: ctx.requestId, scope: decision.breach.scope, budget_level: decision.breach.level },
          "budget.breached",
        );
        alerts?.send(alertOf(decision.breach.level === "emergency" ? "emergency" : "hard", decision.breach));
        throw budgetExceeded(decision.breach);
      }
      const reservation = decision.reservation;
      return {
        keep: (kept) => {
          if (decision.warnings.length > 0) warn(kept, decision.warnings, budgets, alerts);
          if (decision.degradeTo !== undefined && table.has(decision.degradeTo)) {
            kept.setHeader(DEGRADED_HEADER, `${kept.alias} -> ${decision.degradeTo}`);
            kept.alias = decision.degradeTo;
          }
          kept.budgetDecision = decision.degradeTo ? `reserved, degraded to ${decision.degradeTo}` : "reserved";
          if (decision.droppedProviders || decision.latencyTargets) {
            kept.guardrails = {
              ...(decision.droppedProviders ? { droppedProviders: new Set(decision.droppedProviders) } : {}),
              ...(decision.latencyTargets ? { latencyTargets: new Map(decision.latencyTargets) } : {}),
            };
            if (decision.droppedScopes) kept.budgetDecision += `, dropped ${decision.droppedScopes.join("; ")}`;
          }
          log.debug({ request_id: kept.requestId, max_cost_usd: estimate.upperCostUsd }, "budget.reserved");
          kept.afterUsage((c) => {
            const usage = c.usage;
            const tokens = usage ? usage.prompt_tokens + (usage.completion_tokens ?? 0) : 0;
            budgets.settle(reservation, c.costUsd ?? 0, tokens).then(
              () => log.debug({ request_id: c.requestId, cost_usd: c.costUsd ?? 0 }, "budget.settled"),
              (err: Error) =>
                log.warn(
                  { request_id: c.requestId, err: err.message },
                  "budget settle failed: the hold expires by its TTL",
                ),
            );
          });
        },
        giveBack: () => {
          ctx.budgetDecision = "released: refused by a rate limit";
          budgets.release(reservation).catch(() => undefined); // else the hold expires by its TTL
        },
      };
    },
  };
}

/** The warning header, and a soft alert once warn_at is crossed, then once per further 10% step, per period. */
function warn(
  ctx: RequestContext,
  warnings: readonly BudgetWarning[],
  budgets: BudgetService,
  alerts: AlertSender | undefined,
): void {
  const parts: string[] = [];
  for (const w of warnings) {
    parts.push(`${w.scope} (${w.period}): ${Math.round(w.usedFraction * 100)}% used`);
    const step = Math.max(w.warnAt, Math.floor(w.usedFraction * 10) / 10);
    const bucket = periodBucket(w.period, budgets.config.timezone, Date.now()).label;
    alerts?.send({
      kind: "soft",
      scope: w.scope,
      period: `${w.period}:${bucket}`,
      threshold: step,
      usedFraction: w.usedFraction,
      spentUsd: w.spentUsd,
      limitUsd: w.limitUsd ?? 0,
      at: Date.now(),
    });
  }
  ctx.setHeader(BUDGET_WARNING_HEADER, parts.join("; "));
}

function budgetExceeded(breach: BudgetBreach): GatewayError {
  return new GatewayError(breachMessage(breach), {
    status: 429,
    type: "insufficient_quota",
    code: "budget_exceeded",
    // The OpenAI SDKs honour x-should-retry: a budget does not come back by retrying.
    headers: { "x-should-retry": "false" },
  });
}

function alertOf(kind: AlertEvent["kind"], breach: BudgetBreach): AlertEvent {
  return {
    kind,
    scope: breach.scope,
    period: `${breach.period}:${breach.resetAt?.toISOString() ?? "total"}`,
    threshold: 1,
    usedFraction: breach.limitUsd ? (breach.spentUsd ?? 0) / breach.limitUsd : 1,
    spentUsd: breach.spentUsd ?? 0,
    limitUsd: breach.limitUsd ?? 0,
    at: Date.now(),
  };
}
