import type { Config } from "../config/schema.js";
import type { ProviderClient } from "../providers/types.js";
import { type WeightedPicker, weightedPicker } from "./weighted.js";

export interface Deployment {
  /** `provider/model`, stable across restarts: the label in logs, metrics and headers. */
  readonly id: string;
  /** `id` as a JSON string, escaped once for the log line. */
  readonly idJson: string;
  readonly providerName: string;
  readonly provider: ProviderClient;
  readonly upstreamModel: string;
  readonly weight: number;
  readonly region: string | undefined;
}

export interface AliasRoute {
  readonly alias: string;
  /** `alias` as a JSON string, escaped once for the log line. */
  readonly aliasJson: string;
  readonly deployments: readonly Deployment[];
  /** Weighted choice among deployments whose provider can serve now. */
  readonly picker: WeightedPicker<Deployment> | undefined;
  /**
   * Every deployment a request for this alias may end on: its own and, transitively, its fallback aliases'.
   * Cost prediction prices them all, so a budget reserves enough whichever one serves.
   */
  reachable: readonly Deployment[];
  /** Created time reported by /v1/models (config load, seconds). */
  readonly created: number;
}

export type RoutingTable = ReadonlyMap<string, AliasRoute>;

function reachableFrom(start: string, config: Config, table: ReadonlyMap<string, AliasRoute>): Deployment[] {
  const seen = new Set<string>([start]);
  const queue = [start];
  const out: Deployment[] = [];
  const ids = new Set<string>();
  while (queue.length > 0) {
    const alias = queue.shift() as string;
    for (const d of table.get(alias)?.deployments ?? []) {
      if (ids.has(d.id) || d.weight <= 0 || d.provider.unavailable !== undefined) continue;
      ids.add(d.id);
      out.push(d);
    }
    const fallbacks = config.models[alias]?.fallbacks;
    if (!fallbacks) continue;
    for (const next of [...fallbacks.general, ...fallbacks.context_window, ...fallbacks.content_policy]) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return out.length > 0 ? out : [...(table.get(start)?.deployments ?? [])];
}

export function buildRoutingTable(config: Config, clients: ReadonlyMap<string, ProviderClient>): RoutingTable {
  const created = Math.floor(Date.now() / 1000);
  const table = new Map<string, AliasRoute>();
  for (const [alias, def] of Object.entries(config.models)) {
    const deployments = def.deployments.map((d): Deployment => {
      const provider = clients.get(d.provider) as ProviderClient; // the schema checked it exists
      const id = `${d.provider}/${d.model}`;
      return {
        id,
        idJson: JSON.stringify(id),
        providerName: d.provider,
        provider,
        upstreamModel: d.model,
        weight: d.weight,
        region: d.region ?? config.providers[d.provider]?.region,
      };
    });
    const usable = deployments.filter((d) => d.provider.unavailable === undefined && d.weight > 0);
    const picker = weightedPicker(usable, (d) => d.weight);
    table.set(alias, { alias, aliasJson: JSON.stringify(alias), deployments, picker, created, reachable: deployments });
  }
  for (const [alias, route] of table) route.reachable = reachableFrom(alias, config, table);
  return table;
}
