import type { TokenCounts } from "../pricing/index.js";

export type RecommendationKind = "cheaper_model" | "routing_strategy" | "cache" | "idle_budget" | "cheaper_deployment";

export interface RecommendationScope {
  teamId?: string;
  keyId?: string;
  alias?: string;
}

/** One served deployment's share of an alias's traffic, with what it cost and what it would cost elsewhere. */
export interface ServedEvidence {
  deployment: string;
  model: string;
  region: string | null;
  quality: number | null;
  requests: number;
  /** What the ledger recorded. */
  spentUsd: number;
  /** The same tokens at today's price of this deployment. */
  currentPriceUsd: number;
}

/** Where the traffic could go: a configured deployment, or a model of the price database. */
export interface TargetEvidence {
  provider: string;
  model: string;
  region: string | null;
  /** The routing table's deployment id; null when only the price database knows it. */
  deployment: string | null;
  quality: number | null;
  /** Aliases that already route to it. */
  servedByAliases: string[];
}

/** Shared by every saving: the ledger window the figures come from and how they were scaled to a month. */
export interface WindowEvidence {
  windowDays: number;
  /** Days per month over windowDays: the window's figures times this are the monthly ones. */
  monthlyFactor: number;
}

export interface TokenEvidence {
  requests: number;
  /** Tokens as the current deployments counted them (another provider's tokenizer may count a little differently). */
  tokens: TokenCounts;
}

export interface CheaperModelEvidence extends WindowEvidence, TokenEvidence {
  served: ServedEvidence[];
  target: TargetEvidence;
  /** The best quality served, and the least the target had to score: reference × (1 − qualityTolerance). */
  referenceQuality: number;
  minQuality: number;
  qualityTolerance: number;
  currentCostUsd: number;
  targetCostUsd: number;
}

export interface RoutingStrategyEvidence extends WindowEvidence, TokenEvidence {
  strategy: string;
  served: ServedEvidence[];
  /** The alias's deployments of similar quality that the cost strategy would choose among. */
  eligible: TargetEvidence[];
  costMargin: number;
  referenceQuality: number | null;
  qualityTolerance: number;
  currentCostUsd: number;
  /** Expected cost under strategy cost: per request, the 1/price² draw among prices within costMargin of the cheapest. */
  costStrategyUsd: number;
}

export interface CheaperDeploymentEvidence extends WindowEvidence, TokenEvidence {
  served: ServedEvidence;
  target: TargetEvidence;
  currentCostUsd: number;
  targetCostUsd: number;
}

export interface CacheEvidence extends WindowEvidence {
  /** Upstream-served requests with a prompt fingerprint, and those that repeated an earlier prompt. */
  requests: number;
  repeatedRequests: number;
  repeatShare: number;
  /** Distinct prompts seen more than once. */
  repeatedPrompts: number;
  spendUsd: number;
  /** Spend of the repeats: each repeated prompt's spend × (n − 1) / n. */
  repeatedSpendUsd: number;
  /** Share of the repeats a cache is expected to serve (TTL expiry, temperature bypass). */
  expectedHitShare: number;
  cacheEnabled: boolean;
}

export interface IdleBudgetEvidence extends WindowEvidence {
  budget: string;
  period: string;
  limitUsd: number | null;
  limitTokens: number | null;
  /** Periods of the window the peak was taken over (whole periods only; monthly: the window extrapolated). */
  periodsObserved: number;
  spentUsd: number;
  spentTokens: number;
  meanUtilization: number;
  peakUtilization: number;
  idleBelow: number;
  /** Limit not used, per month: limit − the mean spend per period, times periods per month. */
  idleUsdPerMonth: number | null;
  idleTokensPerMonth: number | null;
  /** The budget service's figure for the period now running, when it could be read. */
  currentPeriodUtilization: number | null;
}

interface Base<K extends RecommendationKind, E> {
  id: string;
  kind: K;
  title: string;
  scope: RecommendationScope;
  estimatedMonthlySavingUsd: number;
  evidence: E;
}

export type Recommendation =
  | Base<"cheaper_model", CheaperModelEvidence>
  | Base<"routing_strategy", RoutingStrategyEvidence>
  | Base<"cheaper_deployment", CheaperDeploymentEvidence>
  | Base<"cache", CacheEvidence>
  | Base<"idle_budget", IdleBudgetEvidence>;

// ---- what the engine reads ----

/** Upstream-served chat traffic of one alias on one deployment over the window, summed. */
export interface TrafficRow {
  alias: string;
  deployment: string;
  /** Provider type (openai, azure, ...), as pricing knows it. */
  provider: string;
  model: string;
  region: string | undefined;
  requests: number;
  tokens: TokenCounts;
  costUsd: number;
}

/** One alias's fingerprinted requests, grouped by (team, prompt) before summing: a cache is shared within a team. */
export interface RepeatRow {
  alias: string;
  requests: number;
  costUsd: number;
  repeatedRequests: number;
  repeatedCostUsd: number;
  repeatedPrompts: number;
}

/** Somewhere a request could be served: a configured deployment or a priced model. */
export interface Offer {
  provider: string;
  model: string;
  region: string | undefined;
  deployment: string | undefined;
  quality: number | undefined;
  aliases: readonly string[];
}

export interface AliasFacts {
  alias: string;
  strategy: string;
  costMargin: number;
  cacheEnabled: boolean;
  /** Its deployments that can serve (weight > 0, provider available), with `deployment` set. */
  deployments: readonly Offer[];
}

export interface BudgetUse {
  /** "team blue, alias chat", as the budget service labels it. */
  label: string;
  scope: RecommendationScope;
  period: "daily" | "weekly" | "monthly" | "total";
  limitUsd: number | undefined;
  limitTokens: number | undefined;
  /** Spend and tokens per UTC day of the window, oldest first. */
  dailyUsd: readonly number[];
  dailyTokens: readonly number[];
  currentPeriodUtilization: number | undefined;
}

/** USD for one request of these token counts on the offer; undefined when it is not priced. */
export type Quote = (offer: Offer, counts: TokenCounts) => number | undefined;

export interface RecommendationInput {
  /** Set when the figures are one team's: recommendations then carry it in their scope. */
  teamId?: string;
  windowDays: number;
  /** The window of the prompt fingerprints (they start with migration 0007), at most windowDays. */
  repeatWindowDays: number;
  traffic: readonly TrafficRow[];
  repeats: readonly RepeatRow[];
  aliases: readonly AliasFacts[];
  offers: readonly Offer[];
  budgets: readonly BudgetUse[];
  quote: Quote;
}

export interface RecommendationOptions {
  /** A replacement may score this fraction below the best quality served (scores are Elo-like: 0.015 ≈ 19 points). */
  qualityTolerance: number;
  /** Share of repeated prompts a cache would serve. */
  cacheHitShare: number;
  /** A budget whose peak period used less than this fraction of its limit is idle. */
  idleBelow: number;
  /** Smaller savings are not worth a recommendation. */
  minMonthlySavingUsd: number;
}

export const DEFAULT_RECOMMENDATION_OPTIONS: RecommendationOptions = {
  qualityTolerance: 0.015,
  cacheHitShare: 0.7,
  idleBelow: 0.2,
  minMonthlySavingUsd: 1,
};

/** Micro-dollar precision: enough for a cheap alias, without float noise in the JSON. */
export const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
