import type { RoutingTable } from "../routing/table.js";
import { compose, type NamedStage } from "./compose.js";
import type { RequestContext } from "./context.js";
import { callStage } from "./stages/call.js";
import { routeStage } from "./stages/route.js";

export interface PipelineDeps {
  table: RoutingTable;
}

export interface Pipeline {
  readonly stages: readonly NamedStage[];
  run(ctx: RequestContext): Promise<void>;
}

/**
 * The request path, in order. Stages still to come take their slot here:
 *   auth -> rateLimit -> predict -> budget -> cache -> route -> resilience -> call
 * (usage write-back runs as a finalizer registered by the stages that need it.)
 */
export function buildPipeline(deps: PipelineDeps): Pipeline {
  const stages: NamedStage[] = [routeStage(deps.table), callStage];
  return { stages, run: compose(stages) };
}
