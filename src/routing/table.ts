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
  /** Created time reported by /v1/models (config load, seconds). */
  readonly created: number;
}

export type RoutingTable = ReadonlyMap<string, AliasRoute>;

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
    table.set(alias, { alias, aliasJson: JSON.stringify(alias), deployments, picker, created });
  }
  return table;
}
