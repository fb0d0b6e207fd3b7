import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { Pricing } from "../pricing/index.js";
import type { BreakerOptions } from "../resilience/breakers.js";
import { DeploymentHealth } from "../resilience/health.js";
import { HealthChecker } from "../resilience/health-check.js";
import { createHealthStore } from "../state/health-redis.js";
import { Router } from "./router.js";
import { RuleSet } from "./rules.js";
import type { RoutingTable } from "./table.js";

export interface Routing {
  router: Router;
  rules: RuleSet;
  health: DeploymentHealth;
  close(): Promise<void>;
}

/**
 * The router, its rules and the deployments' health. With a Redis URL, breaker states and cooldowns are shared
 * by every replica (a breaker opening on one takes the deployment out on all within a second); latency
 * statistics and the bandits stay per replica, as each measures its own network path.
 */
export async function createRouting(options: {
  config: Config;
  table: RoutingTable;
  pricing: Pricing;
  redisUrl: string | undefined;
  timezone: string;
  onHealthCheck?: (deployment: string, passed: boolean) => void;
}): Promise<Routing> {
  const { config, table, pricing } = options;
  const r = config.resilience;
  const breaker: BreakerOptions =
    r.breaker.kind === "consecutive"
      ? { kind: "consecutive", failures: r.breaker.failures, halfOpenAfterMs: r.breaker.half_open_after_s * 1000 }
      : {
          kind: "sampling",
          threshold: r.breaker.threshold,
          durationMs: r.breaker.duration_s * 1000,
          minimumRps: r.breaker.minimum_rps,
          halfOpenAfterMs: r.breaker.half_open_after_s * 1000,
        };
  const groups: Record<string, string[]> = {};
  for (const [alias, route] of table) groups[alias] = route.deployments.map((d) => d.id);
  const health = await DeploymentHealth.create({
    store: await createHealthStore(options.redisUrl, { prefix: `tollgate:${upstreamsDigest(config)}` }),
    breaker,
    groups,
    cooldown: { defaultCooldownMs: r.cooldown_s * 1000 },
    ejection: {
      consecutiveFailures: r.outlier.consecutive_failures,
      baseEjectionTimeMs: r.outlier.base_ejection_s * 1000,
      maxEjectionPercent: r.outlier.max_ejection_percent,
      latencyFactor: r.outlier.latency_factor,
    },
  });
  const router = new Router({
    table,
    config,
    health,
    modelInfo: (d) => pricing.model(d.provider.type, d.upstreamModel),
  });
  const rules = new RuleSet(config.rules, { timezone: options.timezone });
  let checker: HealthChecker | undefined;
  if (r.health_checks.enabled) {
    const byId = new Map([...table.values()].flatMap((route) => route.deployments.map((d) => [d.id, d] as const)));
    checker = new HealthChecker({
      deployments: [...byId.keys()],
      target: health,
      intervalMs: r.health_checks.interval_s * 1000,
      healthyThreshold: r.health_checks.healthy_threshold,
      unhealthyThreshold: r.health_checks.unhealthy_threshold,
      probe: async (id, signal) => {
        const d = byId.get(id);
        if (d?.provider.probe === undefined) return;
        await d.provider.probe(signal);
      },
      ...(options.onHealthCheck ? { onResult: (id, passed) => options.onHealthCheck?.(id, passed) } : {}),
    });
    checker.start();
  }
  return {
    router,
    rules,
    health,
    async close() {
      checker?.stop();
      await health.close();
    },
  };
}

/**
 * A deployment's shared health is keyed by its id (provider/model) under a digest of where the providers point:
 * replicas of one config share it, while gateways with the same names for other upstreams (staging beside
 * production on one Redis) do not mix their breakers.
 */
function upstreamsDigest(config: Config): string {
  const upstreams = Object.entries(config.providers)
    .map(([name, p]) => `${name}=${p.type}:${p.base_url ?? ""}:${p.region ?? ""}`)
    .sort()
    .join("\n");
  return createHash("sha256").update(upstreams).digest("hex").slice(0, 12);
}
