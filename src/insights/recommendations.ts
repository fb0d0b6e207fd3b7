import type { TokenCounts } from "../pricing/index.js";
import { idleBudgets } from "./idle-budgets.js";
import {
  type AliasFacts,
  DEFAULT_RECOMMENDATION_OPTIONS,
  type Offer,
  type Recommendation,
  type RecommendationInput,
  type RecommendationOptions,
  type RecommendationScope,
  type RepeatRow,
  round6,
  type ServedEvidence,
  type TargetEvidence,
  type TrafficRow,
} from "./types.js";

export * from "./types.js";

/** Average days per month: the window's figures are scaled by MONTH_DAYS / windowDays. */
export const MONTH_DAYS = 365.25 / 12;

/**
 * Priced suggestions from the ledger's last window, the price database, quality scores, the routing table and
 * budget use, most saving first (idle budgets, which save nothing but free a limit, last). Each saving is against
 * today's spend on its own: two recommendations for one alias overlap and do not add up.
 */
export function recommend(input: RecommendationInput, options: Partial<RecommendationOptions> = {}): Recommendation[] {
  const opts = { ...DEFAULT_RECOMMENDATION_OPTIONS, ...options };
  const analysis = new Analysis(input, opts);
  const out: Recommendation[] = [];
  const keep = (r: Recommendation | undefined) => {
    if (r !== undefined) out.push(r);
  };
  for (const [alias, rows] of groupByAlias(input.traffic)) {
    const facts = analysis.facts.get(alias);
    keep(analysis.cheaperModel(alias, rows));
    if (facts) keep(analysis.routingStrategy(facts, rows));
    for (const row of rows) keep(analysis.cheaperDeployment(row, facts));
  }
  for (const repeat of input.repeats) keep(analysis.cache(repeat));
  out.push(...idleBudgets(input, opts, MONTH_DAYS));
  return out.sort(bySaving);
}

function bySaving(a: Recommendation, b: Recommendation): number {
  if (a.estimatedMonthlySavingUsd !== b.estimatedMonthlySavingUsd)
    return b.estimatedMonthlySavingUsd - a.estimatedMonthlySavingUsd;
  if (a.kind === "idle_budget" && b.kind === "idle_budget")
    return (b.evidence.idleUsdPerMonth ?? 0) - (a.evidence.idleUsdPerMonth ?? 0) || a.id.localeCompare(b.id);
  return a.id.localeCompare(b.id);
}

function groupByAlias(rows: readonly TrafficRow[]): Map<string, TrafficRow[]> {
  const out = new Map<string, TrafficRow[]>();
  for (const row of rows) {
    if (row.requests <= 0) continue;
    const list = out.get(row.alias);
    if (list) list.push(row);
    else out.set(row.alias, [row]);
  }
  return out;
}

const lower = (s: string) => s.toLowerCase();
const placeKey = (provider: string, model: string, region: string | undefined) =>
  `${provider}/${lower(model)}/${region ?? ""}`;

function perRequest(t: TokenCounts, n: number): TokenCounts {
  return { input: t.input / n, cacheRead: t.cacheRead / n, cacheWrite: t.cacheWrite / n, output: t.output / n };
}

function sumTokens(rows: readonly TrafficRow[]): TokenCounts {
  const out: TokenCounts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  for (const r of rows) {
    out.input += r.tokens.input;
    out.cacheRead += r.tokens.cacheRead;
    out.cacheWrite += r.tokens.cacheWrite;
    out.output += r.tokens.output;
  }
  return out;
}

/**
 * The cost strategy's expected price per request: among prices within `margin` of the cheapest, one is drawn with
 * weight 1/p², so E[p] = Σ(1/p) / Σ(1/p²) (strategies/cost.ts). A free candidate takes the traffic.
 */
export function costStrategyPrice(prices: readonly number[], margin: number): number | undefined {
  if (prices.length === 0) return undefined;
  const cheapest = Math.min(...prices);
  if (cheapest <= 0) return 0;
  const ceiling = cheapest * (1 + margin);
  let inverse = 0;
  let inverseSquare = 0;
  for (const p of prices) {
    if (p > ceiling) continue;
    inverse += 1 / p;
    inverseSquare += 1 / (p * p);
  }
  return inverse / inverseSquare;
}

class Analysis {
  readonly facts: Map<string, AliasFacts>;
  private readonly byDeployment = new Map<string, Offer>();
  private readonly byPlace = new Map<string, Offer>();
  private readonly byModel = new Map<string, Offer[]>();
  private readonly factor: number;

  constructor(
    private readonly input: RecommendationInput,
    private readonly opts: RecommendationOptions,
  ) {
    this.facts = new Map(input.aliases.map((a) => [a.alias, a]));
    for (const offer of input.offers) {
      if (offer.deployment !== undefined && !this.byDeployment.has(offer.deployment))
        this.byDeployment.set(offer.deployment, offer);
      const place = placeKey(offer.provider, offer.model, offer.region);
      if (!this.byPlace.has(place)) this.byPlace.set(place, offer);
      const list = this.byModel.get(lower(offer.model));
      if (list) list.push(offer);
      else this.byModel.set(lower(offer.model), [offer]);
    }
    this.factor = MONTH_DAYS / Math.max(1, input.windowDays);
  }

  /** A model not served today, of quality within tolerance of the best served, cheaper on the same tokens. */
  cheaperModel(alias: string, rows: readonly TrafficRow[]): Recommendation | undefined {
    const served = rows.map((r) => this.servedEvidence(r, this.facts.get(alias)));
    const qualities = served.map((s) => s.quality);
    if (qualities.some((q) => q === null)) return undefined; // quality unknown: "similar" cannot be shown
    const reference = Math.max(...(qualities as number[]));
    const minQuality = reference * (1 - this.opts.qualityTolerance);
    const servedModels = new Set(rows.map((r) => lower(r.model)));
    let best: { offer: Offer; cost: number } | undefined;
    for (const offer of this.input.offers) {
      if (offer.quality === undefined || offer.quality < minQuality || servedModels.has(lower(offer.model))) continue;
      const cost = this.costOn(offer, rows);
      if (cost !== undefined && (best === undefined || cost < best.cost)) best = { offer, cost };
    }
    if (best === undefined) return undefined;
    const current = sum(served.map((s) => s.currentPriceUsd));
    const saving = this.monthly(current - best.cost);
    if (!this.worth(saving)) return undefined;
    const target = targetEvidence(best.offer);
    const via = target.servedByAliases.length ? ` (alias ${target.servedByAliases.join(", ")})` : "";
    return {
      id: this.id("cheaper_model", alias, `${target.provider}/${target.model}`),
      kind: "cheaper_model",
      title: `Serve ${alias} with ${target.provider}/${target.model}${via}: quality ${target.quality} vs ${reference}, ${percent(1 - best.cost / current)} cheaper on the same tokens`,
      scope: this.scope({ alias }),
      estimatedMonthlySavingUsd: round6(saving),
      evidence: {
        ...this.window(),
        ...tokenEvidence(rows),
        served,
        target,
        referenceQuality: reference,
        minQuality: round6(minQuality),
        qualityTolerance: this.opts.qualityTolerance,
        currentCostUsd: round6(current),
        targetCostUsd: round6(best.cost),
      },
    };
  }

  /** What strategy cost would have spent on the alias's traffic, among its deployments of similar quality. */
  routingStrategy(facts: AliasFacts, rows: readonly TrafficRow[]): Recommendation | undefined {
    if (facts.strategy === "cost" || facts.deployments.length < 2) return undefined;
    // Requests a fallback alias served are not this alias's routing.
    const own = rows.filter((r) => facts.deployments.some((d) => d.deployment === r.deployment));
    if (own.length === 0) return undefined;
    const served = own.map((r) => this.servedEvidence(r, facts));
    const qualities = served.map((s) => s.quality);
    const reference = qualities.some((q) => q === null) ? undefined : Math.max(...(qualities as number[]));
    const servedModels = new Set(own.map((r) => lower(r.model)));
    const eligible = facts.deployments.filter(
      (d) =>
        servedModels.has(lower(d.model)) || // the same model is the same quality
        (reference !== undefined &&
          d.quality !== undefined &&
          d.quality >= reference * (1 - this.opts.qualityTolerance)),
    );
    let strategyCost = 0;
    for (const row of own) {
      const each = perRequest(row.tokens, row.requests);
      const prices = eligible.map((d) => this.input.quote(d, each)).filter((p): p is number => p !== undefined);
      const price = costStrategyPrice(prices, facts.costMargin);
      if (price === undefined) return undefined;
      strategyCost += price * row.requests;
    }
    const current = sum(served.map((s) => s.currentPriceUsd));
    const saving = this.monthly(current - strategyCost);
    if (!this.worth(saving)) return undefined;
    return {
      id: this.id("routing_strategy", facts.alias),
      kind: "routing_strategy",
      title: `Route ${facts.alias} by cost instead of ${facts.strategy}: ${percent(1 - strategyCost / current)} less among its deployments of similar quality`,
      scope: this.scope({ alias: facts.alias }),
      estimatedMonthlySavingUsd: round6(saving),
      evidence: {
        ...this.window(),
        ...tokenEvidence(own),
        strategy: facts.strategy,
        served,
        eligible: eligible.map(targetEvidence),
        costMargin: facts.costMargin,
        referenceQuality: reference ?? null,
        qualityTolerance: this.opts.qualityTolerance,
        currentCostUsd: round6(current),
        costStrategyUsd: round6(strategyCost),
      },
    };
  }

  /** The same upstream model at another provider or region, not already one of the alias's deployments. */
  cheaperDeployment(row: TrafficRow, facts: AliasFacts | undefined): Recommendation | undefined {
    const own = new Set<string>([placeKey(row.provider, row.model, row.region)]);
    for (const d of facts?.deployments ?? []) own.add(placeKey(d.provider, d.model, d.region));
    const ownIds = new Set((facts?.deployments ?? []).map((d) => d.deployment));
    ownIds.add(row.deployment);
    let best: { offer: Offer; cost: number } | undefined;
    for (const offer of this.byModel.get(lower(row.model)) ?? []) {
      if (own.has(placeKey(offer.provider, offer.model, offer.region))) continue;
      if (offer.deployment !== undefined && ownIds.has(offer.deployment)) continue;
      const cost = this.costOn(offer, [row]);
      if (cost !== undefined && (best === undefined || cost < best.cost)) best = { offer, cost };
    }
    if (best === undefined) return undefined;
    const served = this.servedEvidence(row, facts);
    const saving = this.monthly(served.currentPriceUsd - best.cost);
    if (!this.worth(saving)) return undefined;
    const target = targetEvidence(best.offer);
    const where = `${target.provider}${target.region ? ` (${target.region})` : ""}`;
    return {
      id: this.id("cheaper_deployment", row.alias, row.deployment, `${target.provider}/${target.region ?? ""}`),
      kind: "cheaper_deployment",
      title: `${row.model} for ${row.alias} costs ${percent(1 - best.cost / served.currentPriceUsd)} less on ${where} than on ${row.deployment}${row.region ? ` (${row.region})` : ""}`,
      scope: this.scope({ alias: row.alias }),
      estimatedMonthlySavingUsd: round6(saving),
      evidence: {
        ...this.window(),
        ...tokenEvidence([row]),
        served,
        target,
        currentCostUsd: served.currentPriceUsd,
        targetCostUsd: round6(best.cost),
      },
    };
  }

  /** Prompts the alias saw more than once within a team: their spend, times the share a cache would serve. */
  cache(r: RepeatRow): Recommendation | undefined {
    if (r.repeatedRequests <= 0 || r.requests <= 0) return undefined;
    const days = Math.max(1, this.input.repeatWindowDays);
    const factor = MONTH_DAYS / days;
    const saving = r.repeatedCostUsd * this.opts.cacheHitShare * factor;
    if (!this.worth(saving)) return undefined;
    const enabled = this.facts.get(r.alias)?.cacheEnabled ?? false;
    const share = r.repeatedRequests / r.requests;
    return {
      id: this.id("cache", r.alias),
      kind: "cache",
      title: enabled
        ? `${percent(share)} of ${r.alias}'s upstream calls repeat an earlier prompt yet missed the cache: a longer ttl_s (or allow_temperature) would serve them`
        : `Cache ${r.alias}: ${percent(share)} of its calls repeat an earlier prompt`,
      scope: this.scope({ alias: r.alias }),
      estimatedMonthlySavingUsd: round6(saving),
      evidence: {
        windowDays: round6(days),
        monthlyFactor: round6(factor),
        requests: r.requests,
        repeatedRequests: r.repeatedRequests,
        repeatShare: round6(share),
        repeatedPrompts: r.repeatedPrompts,
        spendUsd: round6(r.costUsd),
        repeatedSpendUsd: round6(r.repeatedCostUsd),
        expectedHitShare: this.opts.cacheHitShare,
        cacheEnabled: enabled,
      },
    };
  }

  /** USD for the rows' tokens on the offer, request by request (a sum of tokens would hit long-context tiers). */
  private costOn(offer: Offer, rows: readonly TrafficRow[]): number | undefined {
    let total = 0;
    for (const row of rows) {
      const each = this.input.quote(offer, perRequest(row.tokens, row.requests));
      if (each === undefined) return undefined;
      total += each * row.requests;
    }
    return total;
  }

  private servedEvidence(row: TrafficRow, facts: AliasFacts | undefined): ServedEvidence {
    const offer = this.offerOf(row, facts);
    const current = this.costOn(offer, [row]);
    return {
      deployment: row.deployment,
      model: row.model,
      region: row.region ?? null,
      quality: offer.quality ?? null,
      requests: row.requests,
      spentUsd: round6(row.costUsd),
      currentPriceUsd: round6(current ?? row.costUsd),
    };
  }

  /** The served deployment as an offer: the alias's own declaration (its quality), else what the table or price database says. */
  private offerOf(row: TrafficRow, facts: AliasFacts | undefined): Offer {
    const declared = facts?.deployments.find((d) => d.deployment === row.deployment);
    if (declared) return declared;
    const known = this.byDeployment.get(row.deployment);
    if (known) return known;
    const priced = this.byPlace.get(placeKey(row.provider, row.model, undefined));
    return {
      provider: row.provider,
      model: row.model,
      region: row.region,
      deployment: row.deployment,
      quality: priced?.quality,
      aliases: [],
    };
  }

  private monthly(windowUsd: number): number {
    return windowUsd * this.factor;
  }

  private worth(monthlyUsd: number): boolean {
    return monthlyUsd > 0 && monthlyUsd >= this.opts.minMonthlySavingUsd;
  }

  private window() {
    return { windowDays: round6(Math.max(1, this.input.windowDays)), monthlyFactor: round6(this.factor) };
  }

  private scope(extra: RecommendationScope): RecommendationScope {
    return this.input.teamId === undefined ? extra : { teamId: this.input.teamId, ...extra };
  }

  private id(...parts: string[]): string {
    return (this.input.teamId === undefined ? parts : [parts[0] as string, this.input.teamId, ...parts.slice(1)]).join(
      ":",
    );
  }
}

function targetEvidence(offer: Offer): TargetEvidence {
  return {
    provider: offer.provider,
    model: offer.model,
    region: offer.region ?? null,
    deployment: offer.deployment ?? null,
    quality: offer.quality ?? null,
    servedByAliases: [...offer.aliases],
  };
}

function tokenEvidence(rows: readonly TrafficRow[]) {
  return { requests: sum(rows.map((r) => r.requests)), tokens: sumTokens(rows) };
}

function sum(xs: readonly number[]): number {
  let total = 0;
  for (const x of xs) total += x;
  return total;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}
