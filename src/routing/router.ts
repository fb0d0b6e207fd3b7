import type { AliasConfig, Config } from "../config/schema.js";
import type { ModelInfo } from "../pricing/index.js";
import type { DeploymentHealth } from "../resilience/health.js";
import type { StrategyName } from "./config.js";
import { DeploymentPerformance, type PerformanceRow } from "./performance.js";
import {
  AdaptiveBandit,
  costStrategy,
  geoStrategy,
  LatencyTracker,
  latencyStrategy,
  qualityStrategy,
  type RouteCandidate,
  type RoutingStrategy,
  weightedStrategy,
} from "./strategies/index.js";
import type { AliasRoute, Deployment, RoutingTable } from "./table.js";

/** What a request needs of a deployment, and what routing knows of it before the call. */
export interface RoutingRequest {
  /** Predicted prompt tokens and cost of this request on a deployment (the cost engine's per-deployment figures). */
  estimate(deploymentId: string): { promptTokens: number; costUsd: number | undefined } | undefined;
  /** The most completion tokens the request may produce (max_tokens, else the predictor's upper bound). */
  maxCompletionTokens: number;
  needs: { tools: boolean; vision: boolean; jsonMode: boolean };
  region: string | undefined;
  maxCostUsd: number | undefined;
  /** A rule's strategy, over the alias's own. */
  strategy: StrategyName | undefined;
  /** Provider types a spent per-model guardrail (drop_model_when_over) took out for this request. */
  droppedProviders: ReadonlySet<string> | undefined;
  /** Per-model latency guardrails: deployments of this provider type over this p50 step aside when others can serve. */
  latencyTargets: ReadonlyMap<string, number> | undefined;
}

export interface RoutePlan {
  route: AliasRoute;
  /** Best first; the rest is the retry order. Empty when nothing is eligible. */
  ordered: Deployment[];
  strategy: string;
  reason: string;
  /** Deployments left out, and why (for the explain endpoint and the error when none is left). */
  excluded: Exclusion[];
}

export interface Exclusion {
  id: string;
  why: string;
  /** unavailable: its provider is not configured; health: breaker, cooldown, ejection or checks (see untilMs). */
  kind: "unavailable" | "health" | "context_window" | "capability" | "guardrail";
  /** kind health: when it may serve again (0: unknown). */
  untilMs?: number;
  /** kind health: out only because a 429 cooled it down. */
  coolingDown?: boolean;
}

interface DeploymentFacts {
  contextWindow: number | undefined;
  tools: boolean | undefined;
  vision: boolean | undefined;
  jsonMode: boolean | undefined;
  quality: number | undefined;
}

interface AliasPolicy {
  config: AliasConfig;
  strategies: Partial<Record<StrategyName, RoutingStrategy>>;
  bandit: AdaptiveBandit;
}

interface Candidate extends RouteCandidate {
  readonly deployment: Deployment;
}

export interface RouterOptions {
  table: RoutingTable;
  config: Pick<Config, "models" | "routing">;
  health: DeploymentHealth;
  /** Context window, capabilities and quality per deployment (the price database), when routes.yaml is silent. */
  modelInfo?: (deployment: Deployment) => ModelInfo | undefined;
  random?: () => number;
  now?: () => number;
}

/**
 * Chooses, per request, the order in which an alias's deployments are tried: eligibility filters first
 * (provider available, health, context window, capabilities, per-model guardrails), then the alias's strategy.
 * Latency statistics and the bandits are this replica's own (each replica measures its own network path);
 * breaker states and cooldowns come from DeploymentHealth, shared through Redis when configured.
 */
export class Router {
  readonly latency: LatencyTracker;
  readonly performance = new DeploymentPerformance();
  readonly health: DeploymentHealth;
  private readonly table: RoutingTable;
  private readonly policies = new Map<string, AliasPolicy>();
  // By deployment object: the same provider/model may be declared in several aliases with different limits.
  private readonly facts = new Map<Deployment, DeploymentFacts>();
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly selections = new Map<string, number>();

  constructor(options: RouterOptions) {
    this.table = options.table;
    this.health = options.health;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    const routing = options.config.routing;
    this.latency = new LatencyTracker({ decayMs: routing.latency_decay_s * 1000 });
    for (const [alias, config] of Object.entries(options.config.models)) {
      const route = this.table.get(alias);
      if (!route) continue;
      const bandit = new AdaptiveBandit({
        weights: { success: routing.adaptive.success, latency: routing.adaptive.latency, cost: routing.adaptive.cost },
        discount: routing.adaptive.discount,
        random: this.random,
      });
      this.policies.set(alias, { config, strategies: {}, bandit });
      config.deployments.forEach((d, i) => {
        const deployment = route.deployments[i] as Deployment;
        const info = options.modelInfo?.(deployment);
        this.facts.set(deployment, {
          contextWindow: d.context_window ?? info?.contextWindow,
          tools: info?.capabilities.tools,
          vision: info?.capabilities.vision,
          jsonMode: info?.capabilities.jsonMode,
          quality: d.quality ?? info?.quality?.score,
        });
      });
    }
  }

  /** The alias's own routing settings (fallbacks, strategy); undefined for an unknown alias. */
  aliasConfig(alias: string): AliasConfig | undefined {
    return this.policies.get(alias)?.config;
  }

  plan(alias: string, request: RoutingRequest): RoutePlan | undefined {
    const route = this.table.get(alias);
    const policy = this.policies.get(alias);
    if (route === undefined || policy === undefined) return undefined;
    const excluded: RoutePlan["excluded"] = [];
    const candidates: Candidate[] = [];
    const now = this.now();
    for (const d of route.deployments) {
      const out = this.ineligible(d, request, now);
      if (out !== undefined) {
        excluded.push(out);
        continue;
      }
      const estimate = request.estimate(d.id);
      candidates.push({
        id: d.id,
        weight: d.weight,
        region: d.region,
        costUsd: estimate?.costUsd,
        quality: this.facts.get(d)?.quality,
        deployment: d,
      });
    }
    const eligible = this.meetLatencyTargets(candidates, request.latencyTargets, excluded);
    const name = request.strategy ?? (policy.config.strategy as StrategyName);
    if (eligible.length === 0)
      return { route, ordered: [], strategy: name, reason: "no eligible deployment", excluded };
    const strategy = this.strategy(policy, name);
    const choice = strategy.choose(
      eligible,
      { region: request.region, ...(request.maxCostUsd !== undefined ? { maxCostUsd: request.maxCostUsd } : {}) },
      this.random,
    );
    const ordered = choice.ordered.map((c) => (c as Candidate).deployment);
    const first = ordered[0];
    if (first) this.selections.set(first.id, (this.selections.get(first.id) ?? 0) + 1);
    return { route, ordered, strategy: strategy.name, reason: choice.reason, excluded };
  }

  /** Feeds an attempt's outcome to the alias's bandit (the latency tracker is fed around the call itself). */
  observe(
    alias: string,
    deploymentId: string,
    outcome: { ok: boolean; latencyMs: number; costUsd: number | undefined },
  ) {
    const policy = this.policies.get(alias);
    // Only a bandit in use learns: the alias is adaptive, or a rule made it so for some requests.
    if (policy?.strategies.adaptive !== undefined) policy.bandit.observe(deploymentId, outcome);
  }

  /** Each adaptive alias's current expected traffic shares, recomputed now. */
  rebalance(): Record<string, { id: string; share: number; meanReward: number; evidence: number }[]> {
    const out: Record<string, { id: string; share: number; meanReward: number; evidence: number }[]> = {};
    for (const [alias, policy] of this.policies) out[alias] = policy.bandit.weights().map((w) => ({ ...w }));
    return out;
  }

  /** GET /api/models/performance: per deployment, what this replica measured and what health says now. */
  report(): Record<string, unknown>[] {
    const now = this.now();
    const health = this.health.snapshot(now);
    const shares = new Map<string, number>();
    for (const [alias, policy] of this.policies) {
      if (policy.config.strategy !== "adaptive") continue;
      for (const w of policy.bandit.weights()) shares.set(`${alias}\0${w.id}`, w.share);
    }
    const rows: Record<string, unknown>[] = [];
    for (const [alias, route] of this.table) {
      for (const d of route.deployments) {
        const h = health[d.id];
        const perf: PerformanceRow = this.performance.row(d.id);
        const ewma = this.latency.get(d.id);
        rows.push({
          alias,
          deployment: d.id,
          region: d.region ?? null,
          ...perf,
          ewma_ms: ewma ? Math.round(ewma.estimateMs() * 100) / 100 : null,
          in_flight: ewma?.inFlight ?? 0,
          breaker: h?.breaker ?? "closed",
          breaker_open_elsewhere_until: h && h.remoteOpenUntil > now ? new Date(h.remoteOpenUntil).toISOString() : null,
          cooldown_until: h && h.cooldownUntil > now ? new Date(h.cooldownUntil).toISOString() : null,
          ejected_until: h && h.ejectedUntil > now ? new Date(h.ejectedUntil).toISOString() : null,
          eligible: this.health.isEligible(d.id, now),
          selections: this.selectionCount(d.id),
          adaptive_share: shares.get(`${alias}\0${d.id}`) ?? null,
        });
      }
    }
    return rows;
  }

  /** How many times each deployment was picked first. */
  selectionCount(id: string): number {
    return this.selections.get(id) ?? 0;
  }

  private ineligible(d: Deployment, request: RoutingRequest, now: number): Exclusion | undefined {
    const id = d.id;
    if (d.weight <= 0) return { id, why: "weight 0", kind: "unavailable" };
    if (d.provider.unavailable !== undefined) return { id, why: d.provider.unavailable, kind: "unavailable" };
    if (request.droppedProviders?.has(d.provider.type)) {
      return { id, why: "over its per-model budget (drop_model_when_over)", kind: "guardrail" };
    }
    const facts = this.facts.get(d);
    if (facts) {
      const estimate = request.estimate(id);
      if (facts.contextWindow !== undefined && estimate !== undefined) {
        const needed = estimate.promptTokens + request.maxCompletionTokens;
        if (needed > facts.contextWindow) {
          return { id, why: `context window ${facts.contextWindow} < ${needed} tokens`, kind: "context_window" };
        }
      }
      if (request.needs.tools && facts.tools === false) return { id, why: "no tool calling", kind: "capability" };
      if (request.needs.vision && facts.vision === false) return { id, why: "no image input", kind: "capability" };
      if (request.needs.jsonMode && facts.jsonMode === false) return { id, why: "no JSON mode", kind: "capability" };
    }
    if (this.health.isEligible(id, now)) return undefined;
    return {
      id,
      why: this.health.reason(id, now) ?? "unhealthy",
      kind: "health",
      untilMs: this.health.availableAt(id, now),
      coolingDown: this.health.isCoolingDown(id, now),
    };
  }

  /** Deployments over a latency target step aside, unless that would leave nothing. */
  private meetLatencyTargets(
    candidates: Candidate[],
    targets: ReadonlyMap<string, number> | undefined,
    excluded: RoutePlan["excluded"],
  ): Candidate[] {
    if (targets === undefined || targets.size === 0) return candidates;
    const fast = candidates.filter((c) => {
      const target = targets.get(c.deployment.provider.type);
      const ewma = target === undefined ? undefined : this.latency.get(c.id)?.estimateMs();
      return ewma === undefined || ewma <= (target as number);
    });
    if (fast.length === 0 || fast.length === candidates.length) return candidates;
    for (const c of candidates) {
      if (!fast.includes(c)) excluded.push({ id: c.id, why: "over its latency target", kind: "guardrail" });
    }
    return fast;
  }

  private strategy(policy: AliasPolicy, name: StrategyName): RoutingStrategy {
    const cached = policy.strategies[name];
    if (cached) return cached;
    const made = this.make(policy, name);
    policy.strategies[name] = made;
    return made;
  }

  private make(policy: AliasPolicy, name: StrategyName): RoutingStrategy {
    switch (name) {
      case "weighted":
        return weightedStrategy();
      case "latency":
        return latencyStrategy(this.latency);
      case "cost":
        return costStrategy({ margin: policy.config.cost_margin });
      case "quality":
        return qualityStrategy();
      case "adaptive":
        return policy.bandit;
      case "geo": {
        const inner = this.strategy(
          policy,
          policy.config.geo.order_by === "geo" ? "latency" : policy.config.geo.order_by,
        );
        return geoStrategy(inner, policy.config.geo.policy);
      }
    }
  }
}
