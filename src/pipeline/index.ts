import type { CostEngine } from "../cost/engine.js";
import type { RoutingTable } from "../routing/table.js";
import type { UsageLedger } from "../usage/index.js";
import { compose, type NamedStage } from "./compose.js";
import type { RequestContext } from "./context.js";
import { callStage } from "./stages/call.js";
import { predictStage } from "./stages/predict.js";
import { routeStage } from "./stages/route.js";
import { usageRecorder, usageStage } from "./stages/usage.js";

export interface PipelineDeps {
  table: RoutingTable;
  /** The cost engine and the usage ledger; without them nothing is priced or recorded (unit tests). */
  cost?: { engine: CostEngine; ledger: UsageLedger; unknownPrice: "block" | "allow" };
}

export interface Pipeline {
  readonly stages: readonly NamedStage[];
  /** Called for every request as it arrives, before its body is read: what must happen however it ends. */
  begin(ctx: RequestContext): void;
  run(ctx: RequestContext): Promise<void>;
}

/**
 * The request path, in order. Stages still to come take their slot here:
 *   usage -> auth -> rateLimit -> predict -> budget -> cache -> route -> resilience -> call
 * (the ledger record is written by a finalizer registered in begin(), so refused requests have one too.)
 */
export function buildPipeline(deps: PipelineDeps): Pipeline {
  const cost = deps.cost;
  const stages: NamedStage[] = cost
    ? [usageStage(), predictStage(cost.engine, deps.table, cost.unknownPrice), routeStage(deps.table), callStage]
    : [routeStage(deps.table), callStage];
  const record = cost ? usageRecorder(cost.engine, cost.ledger) : undefined;
  return {
    stages,
    begin: record ? (ctx) => ctx.whenDone(record) : () => {},
    run: compose(stages),
  };
}
