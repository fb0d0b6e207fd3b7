import type { BudgetDefinition } from "../budget/definition.js";
import { scopeLabelOf } from "../budget/scopes.js";
import type { Config } from "../config/schema.js";
import type { Pricing } from "../pricing/index.js";
import type { RoutingTable } from "../routing/table.js";
import type { Store } from "../store/index.js";
import { dailySpend, ledgerWindow, promptRepeats, trafficByDeployment } from "./ledger.js";
import type { AliasFacts, BudgetUse, Offer, Quote, RecommendationInput } from "./types.js";

/** Where the recommendations' figures come from. */
export interface InsightSources {
  store: Store;
  table: RoutingTable;
  pricing: Pricing;
  /** The aliases' strategies, cost margins, declared deployment qualities and cache settings. */
  config: Pick<Config, "models" | "cache">;
  /** Every budget in force: declared in routes.yaml and made through the admin API. */
  budgetDefinitions(): Promise<readonly BudgetDefinition[]>;
  /** The budget service's utilisation of the running periods (BudgetService.utilization); optional. */
  utilization?(): Promise<readonly { scope: string; period: string; fraction: number }[]>;
  /** Key id -> team id, to place key budgets; without it, key budgets are seen by the admin only. */
  keyTeams?(): Promise<ReadonlyMap<string, string>>;
}

/** Ledger days the figures come from (fewer while the ledger is younger). */
export const WINDOW_DAYS = 30;

/** The engine's input for one reader: everything (teamId undefined) or one team's traffic and budgets. */
export async function gatherInput(
  sources: InsightSources,
  teamId: string | undefined,
  nowMs: number,
): Promise<RecommendationInput> {
  const { store } = sources;
  const window = await ledgerWindow(store, nowMs, WINDOW_DAYS);
  const repeatWindow = await ledgerWindow(store, nowMs, WINDOW_DAYS, true);
  const { aliases, offers } = routingFacts(sources);
  return {
    ...(teamId === undefined ? {} : { teamId }),
    windowDays: window.days,
    repeatWindowDays: repeatWindow.days,
    traffic: await trafficByDeployment(store, window, teamId),
    repeats: await promptRepeats(store, repeatWindow, teamId),
    aliases,
    offers,
    budgets: await budgetUses(sources, teamId, window),
    quote: quoteWith(sources.pricing),
  };
}

function quoteWith(pricing: Pricing): Quote {
  return (offer, counts) =>
    pricing.quote(offer.provider, offer.model, counts, { deployment: offer.deployment, region: offer.region })?.costUsd;
}

/**
 * The aliases as routing sees them, and every place a request could be served: each configured deployment, and
 * each priced model of a provider type the gateway is configured for (in each region it has for that type).
 */
export function routingFacts(sources: Pick<InsightSources, "table" | "pricing" | "config">): {
  aliases: AliasFacts[];
  offers: Offer[];
} {
  const { table, pricing, config } = sources;
  const servedBy = new Map<string, string[]>(); // provider/model -> aliases
  const regions = new Map<string, Set<string | undefined>>(); // provider type -> regions configured
  for (const route of table.values()) {
    for (const d of route.deployments) {
      const key = `${d.provider.type}/${d.upstreamModel.toLowerCase()}`;
      const list = servedBy.get(key) ?? [];
      if (!list.includes(route.alias)) list.push(route.alias);
      servedBy.set(key, list);
      const set = regions.get(d.provider.type) ?? new Set([undefined]);
      set.add(d.region);
      regions.set(d.provider.type, set);
    }
  }
  const aliasesOf = (provider: string, model: string) => servedBy.get(`${provider}/${model.toLowerCase()}`) ?? [];
  const offers: Offer[] = [];
  const seen = new Set<string>();
  const aliases: AliasFacts[] = [];
  for (const route of table.values()) {
    const declared = config.models[route.alias];
    const own: Offer[] = [];
    route.deployments.forEach((d, i) => {
      const offer: Offer = {
        provider: d.provider.type,
        model: d.upstreamModel,
        region: d.region,
        deployment: d.id,
        // As the router scores it: routes.yaml first, then pricing/models.yaml.
        quality: declared?.deployments[i]?.quality ?? pricing.model(d.provider.type, d.upstreamModel)?.quality?.score,
        aliases: aliasesOf(d.provider.type, d.upstreamModel),
      };
      if (d.weight > 0 && d.provider.unavailable === undefined) own.push(offer);
      if (!seen.has(d.id)) {
        seen.add(d.id);
        offers.push(offer);
      }
    });
    aliases.push({
      alias: route.alias,
      strategy: declared?.strategy ?? "weighted",
      costMargin: declared?.cost_margin ?? 0.1,
      cacheEnabled: declared?.cache.enabled ?? config.cache.enabled,
      deployments: own,
    });
  }
  for (const info of pricing.models()) {
    const where = regions.get(info.provider);
    if (where === undefined) continue;
    for (const region of where) {
      offers.push({
        provider: info.provider,
        model: info.model,
        region,
        deployment: undefined,
        quality: info.quality?.score,
        aliases: aliasesOf(info.provider, info.model),
      });
    }
  }
  return { aliases, offers };
}

async function budgetUses(
  sources: InsightSources,
  teamId: string | undefined,
  window: Awaited<ReturnType<typeof ledgerWindow>>,
): Promise<BudgetUse[]> {
  const definitions = await sources.budgetDefinitions();
  const limited = definitions.filter(
    (d) => d.period !== "total" && (d.limit_usd !== undefined || d.limit_tokens !== undefined),
  );
  if (limited.length === 0) return [];
  const keyTeams = (await sources.keyTeams?.()) ?? new Map<string, string>();
  // Redis down or no budget service: the ledger's figures stand alone.
  const running = await (sources.utilization?.() ?? Promise.resolve([])).catch(() => []);
  const out: BudgetUse[] = [];
  for (const def of limited) {
    const owner = def.scope === "team" ? def.id : def.scope === "key" ? keyTeams.get(def.id) : undefined;
    if (teamId !== undefined && owner !== teamId) continue; // a team sees its own and its keys' budgets
    const label = scopeLabelOf(def);
    const fractions = running.filter((u) => u.scope === label && u.period === def.period).map((u) => u.fraction);
    const spend = await dailySpend(sources.store, window, def);
    out.push({
      label,
      scope: {
        ...(owner === undefined ? {} : { teamId: owner }),
        ...(def.scope === "key" ? { keyId: def.id } : {}),
        ...(def.alias === undefined ? {} : { alias: def.alias }),
      },
      period: def.period,
      limitUsd: def.limit_usd,
      limitTokens: def.limit_tokens,
      dailyUsd: spend.usd,
      dailyTokens: spend.tokens,
      currentPeriodUtilization: fractions.length ? Math.max(...fractions) : undefined,
    });
  }
  return out;
}
