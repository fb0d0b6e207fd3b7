import type { KeyService } from "../auth/index.js";
import type { CostEngine } from "../cost/engine.js";
import type { PriorityGate } from "../resilience/priority.js";
import type { ResilienceConfig } from "../routing/config.js";
import type { Router } from "../routing/router.js";
import type { RuleSet } from "../routing/rules.js";
import type { RoutingTable } from "../routing/table.js";
import type { UsageLedger } from "../usage/index.js";
import { compose, type NamedStage } from "./compose.js";
import type { RequestContext } from "./context.js";
import { type AdmissionCheck, admitStage } from "./stages/admit.js";
import { authStage } from "./stages/auth.js";
import { type CacheStageOptions, cacheStage } from "./stages/cache.js";
import { type AttemptObserver, callStage } from "./stages/call.js";
import { predictStage } from "./stages/predict.js";
import { type ResilienceObserver, resilienceStage } from "./stages/resilience.js";
import { routeStage } from "./stages/route.js";
import { usageRecorder, usageStage } from "./stages/usage.js";

export interface PipelineDeps {
  table: RoutingTable;
  /** The cost engine and the usage ledger; without them nothing is priced or recorded (unit tests). */
  cost?: { engine: CostEngine; ledger: UsageLedger; unknownPrice: "block" | "allow" };
  /** Absent: the gateway runs open (no key anywhere, no master key). */
  keys?: KeyService;
  /** Rate limits and budgets: checked together, after predict, all or nothing. */
  admission?: AdmissionCheck[];
  /** The response cache, after admission (a hit is charged nothing) and before routing. */
  cache?: CacheStageOptions;
  /** Told about every upstream attempt (GenAI metrics, CLIENT spans). */
  attempts?: AttemptObserver;
  /** Deployment id -> its concurrency gate. */
  gates?: ReadonlyMap<string, PriorityGate>;
  /** Strategies, health, retries and fallbacks; absent (unit tests): weighted choice and one attempt. */
  routing?: {
    router: Router;
    rules: RuleSet;
    resilience: ResilienceConfig;
    regionHeader: string;
    defaultRegion: string | undefined;
    observer?: ResilienceObserver;
  };
}

export interface Pipeline {
  readonly stages: readonly NamedStage[];
  /** Called for every request as it arrives, before its body is read: what must happen however it ends. */
  begin(ctx: RequestContext): void;
  run(ctx: RequestContext): Promise<void>;
  /** Auth, predict and route only: which rule and deployments a request would get, without calling upstream. */
  explain(ctx: RequestContext): Promise<void>;
}

/**
 * The request path, in order:
 *   usage -> auth -> predict -> admit (rate limits + budgets, at once) -> cache -> route -> resilience (calls)
 * Admission runs after predict: token limits charge the predicted tokens, budgets reserve the predicted cost. The ledger
 * record is written by a finalizer registered in begin(), so refused requests have one too.
 */
export function buildPipeline(deps: PipelineDeps): Pipeline {
  const cost = deps.cost;
  const stages: NamedStage[] = [];
  if (cost) stages.push(usageStage());
  if (deps.keys) stages.push(authStage(deps.keys));
  if (cost) stages.push(predictStage(cost.engine, deps.table, cost.unknownPrice));
  if (deps.admission?.length) stages.push(admitStage(deps.admission));
  if (deps.cache) stages.push(cacheStage(deps.cache));
  const routing = deps.routing;
  const route = routing
    ? routeStage({
        table: deps.table,
        router: routing.router,
        rules: routing.rules,
        regionHeader: routing.regionHeader,
        ...(routing.defaultRegion ? { defaultRegion: routing.defaultRegion } : {}),
      })
    : routeStage({ table: deps.table });
  const explainStages = stages.filter((s) => s.name === "auth" || s.name === "predict");
  explainStages.push(route);
  stages.push(
    route,
    routing
      ? resilienceStage(routing.router, routing.resilience, deps.gates ?? new Map(), routing.observer, deps.attempts)
      : callStage(deps.gates, deps.attempts),
  );
  const record = cost ? usageRecorder(cost.engine, cost.ledger) : undefined;
  return {
    stages,
    begin: record ? (ctx) => ctx.whenDone(record) : () => {},
    run: compose(stages),
    explain: compose(explainStages),
  };
}
