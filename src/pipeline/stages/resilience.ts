import { EventEmitter } from "node:events";
import { GatewayError } from "../../errors.js";
import { onAbort } from "../../providers/http.js";
import { retryDelay } from "../../resilience/backoff.js";
import { classifyFailure, type FailureKind } from "../../resilience/failures.js";
import type { PriorityGate } from "../../resilience/priority.js";
import type { ResilienceConfig } from "../../routing/config.js";
import type { Router } from "../../routing/router.js";
import type { Deployment } from "../../routing/table.js";
import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";
import { type AttemptObserver, callDeployment } from "./call.js";
import { routingRequest } from "./route.js";

export const ATTEMPTS_HEADER = "x-tollgate-attempts";

/** Counters the stage reports to (prom-client in app.ts; nothing in unit tests). */
export interface ResilienceObserver {
  retried?(alias: string, kind: FailureKind): void;
  fellBack?(from: string, to: string, kind: "general" | "context_window" | "content_policy"): void;
  attempt?(deployment: Deployment, ok: boolean, latencyMs: number, stream: boolean): void;
}

const FALLBACK_CLASS: Partial<Record<FailureKind, "context_window" | "content_policy">> = {
  context_window: "context_window",
  content_policy: "content_policy",
};

/**
 * Tries ctx.candidates in order until one answers: a retryable failure (connect, timeout, 429, 5xx, overloaded)
 * moves to the next eligible deployment after a full-jitter backoff, within `retry.max_attempts` and
 * `retry.max_total_ms`; when the alias has none left, its fallback aliases are tried in order, each only for
 * its own failure class (context window, content policy, or any other). Nothing is retried once the client has
 * a byte: only a call that threw (before its answer began) is. Every attempt is reported to the deployment's
 * health (breaker, cooldown, ejection), the latency tracker and the adaptive bandit.
 */
export function resilienceStage(
  router: Router,
  config: ResilienceConfig,
  gates: ReadonlyMap<string, PriorityGate>,
  observer: ResilienceObserver = {},
  attempts?: AttemptObserver,
): NamedStage {
  const { health, latency } = router;
  const admit = (id: string) => health.admit(id);
  const eligible = (id: string) => health.isEligible(id);
  const backoff = { baseMs: config.retry.base_ms, capMs: config.retry.max_backoff_ms };
  return {
    name: "resilience",
    run: async (ctx) => {
      const startedAt = Date.now();
      // Deployments tried so far; most requests need one attempt, so a short array beats a Set.
      const tried: string[] = [];
      const fallbacksUsed = new Set<string>([ctx.alias]);
      let queue: readonly Deployment[] = ctx.candidates ?? (ctx.deployment ? [ctx.deployment] : []);
      const clientSignal = ctx.signal;
      let index = 0;
      let retries = 0;
      for (;;) {
        const deployment = nextCandidate(queue, index, tried, admit);
        if (deployment === undefined) throw exhausted(ctx);
        index = queue.indexOf(deployment) + 1;
        ctx.deployment = deployment;
        tried.push(deployment.id);
        latency.start(deployment.id);
        const t0 = performance.now();
        ctx.attemptStartedAt = t0;
        const traceHeaders = attempts?.started(ctx, deployment);
        try {
          const attemptMs = router.aliasConfig(ctx.alias)?.timeouts.attempt_ms;
          if (attemptMs === undefined) await callDeployment(ctx, gates, traceHeaders);
          else await callWithin(ctx, gates, attemptMs, clientSignal, traceHeaders);
        } catch (err) {
          const elapsed = performance.now() - t0;
          attempts?.failed(ctx, deployment, err);
          latency.end(deployment.id, elapsed, false);
          void health.onFailure(deployment.id, err, elapsed);
          router.observe(ctx.alias, deployment.id, { ok: false, latencyMs: elapsed, costUsd: undefined });
          observer.attempt?.(deployment, false, elapsed, ctx.stream);
          router.performance.attempt(deployment.id, false, elapsed, ctx.stream);
          const failure = classifyFailure(err);
          logAttempt(ctx, deployment, err instanceof GatewayError ? String(err.status) : failure.kind);
          if (failure.kind === "aborted") throw err;
          const fallbackClass = FALLBACK_CLASS[failure.kind];
          const outOfTries = ctx.attempts >= config.retry.max_attempts;
          if (!failure.retryable && fallbackClass === undefined) throw withAttempts(ctx, err);
          if (outOfTries) throw withAttempts(ctx, err);
          // A context-window or content-policy failure goes to its own fallbacks; another deployment of the
          // same alias would refuse the same way.
          let hasNext = fallbackClass === undefined && nextCandidate(queue, index, tried, eligible) !== undefined;
          if (!hasNext) {
            const next = fallbackPlan(ctx, router, fallbackClass ?? "general", fallbacksUsed);
            if (next === undefined) throw withAttempts(ctx, err);
            observer.fellBack?.(next.from, ctx.alias, fallbackClass ?? "general");
            queue = next.ordered;
            index = 0;
            hasNext = true;
          }
          const following = nextCandidate(queue, index, tried, eligible);
          const delay = retryDelay(
            {
              retry: retries,
              startedAt,
              now: Date.now(),
              maxTotalMs: config.retry.max_total_ms,
              // A retry-after binds the deployment that sent it; another one may be called at once.
              ...(following?.id === deployment.id && failure.retryAfterMs !== undefined
                ? { retryAfterMs: failure.retryAfterMs }
                : {}),
            },
            backoff,
          );
          if (delay === undefined) throw withAttempts(ctx, err);
          retries++;
          observer.retried?.(ctx.alias, failure.kind);
          if (delay > 0) await sleep(delay);
          continue;
        }
        const elapsed = performance.now() - t0;
        attempts?.answered(ctx, deployment);
        // Time to the answer: for a stream its first event (what a user waits for), for JSON the whole call.
        latency.end(deployment.id, elapsed, true);
        observer.attempt?.(deployment, true, elapsed, ctx.stream);
        router.performance.attempt(deployment.id, true, elapsed, ctx.stream);
        const alias = ctx.alias;
        if (ctx.result?.stream) {
          ctx.whenDone((c) => {
            if (c.outcome === "upstream_error")
              void health.onFailure(deployment.id, c.error ?? new Error("stream cut"));
            else void health.onSuccess(deployment.id, elapsed);
            router.observe(alias, deployment.id, {
              ok: c.outcome !== "upstream_error",
              latencyMs: elapsed,
              costUsd: c.costUsd,
            });
            if (c.costUsd !== undefined) router.performance.cost(deployment.id, c.costUsd);
          });
        } else {
          void health.onSuccess(deployment.id, elapsed);
          ctx.afterUsage((c) => {
            router.observe(alias, deployment.id, { ok: true, latencyMs: elapsed, costUsd: c.costUsd });
            if (c.costUsd !== undefined) router.performance.cost(deployment.id, c.costUsd);
          });
        }
        if (ctx.attemptLog !== undefined) {
          logAttempt(ctx, deployment, "ok");
          ctx.setHeader(ATTEMPTS_HEADER, attemptsValue(ctx));
        }
        return;
      }
    },
  };
}

/**
 * One attempt abandoned after `ms` unless its answer has begun: the attempt gets its own abort signal, which
 * the client's going away also fires, so the upstream call is cancelled either way.
 */
async function callWithin(
  ctx: RequestContext,
  gates: ReadonlyMap<string, PriorityGate>,
  ms: number,
  clientSignal: RequestContext["signal"],
  traceHeaders: Record<string, string> | undefined,
): Promise<void> {
  const attempt = new EventEmitter();
  const forward = () => attempt.emit("abort");
  const stopForwarding = clientSignal ? onAbort(clientSignal, forward) : undefined;
  ctx.signal = attempt;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    attempt.emit("abort");
  }, ms);
  try {
    await callDeployment(ctx, gates, traceHeaders);
  } catch (err) {
    stopForwarding?.();
    ctx.signal = clientSignal;
    if (!timedOut) throw err;
    throw new GatewayError(
      `Upstream '${ctx.deployment?.id}' did not begin answering within ${ms} ms (models.${ctx.alias}.timeouts.attempt_ms)`,
      { status: 504, type: "api_error", code: "upstream_timeout", cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The first deployment of `queue` from `from` not tried yet that `takes` accepts: `admit` before an attempt
 * (it also takes a half-open probe), `isEligible` to look ahead without taking anything.
 */
function nextCandidate(
  queue: readonly Deployment[],
  from: number,
  tried: readonly string[],
  takes: (id: string) => boolean,
): Deployment | undefined {
  for (let i = from; i < queue.length; i++) {
    const d = queue[i] as Deployment;
    if (!tried.includes(d.id) && takes(d.id)) return d;
  }
  return undefined;
}

/** The next fallback alias of this class that has an eligible deployment; switches ctx.alias to it. */
function fallbackPlan(
  ctx: RequestContext,
  router: Router,
  kind: "general" | "context_window" | "content_policy",
  used: Set<string>,
): { from: string; ordered: readonly Deployment[] } | undefined {
  const from = ctx.alias;
  const aliases = router.aliasConfig(from)?.fallbacks[kind] ?? [];
  for (const alias of aliases) {
    if (used.has(alias)) continue;
    used.add(alias);
    const plan = router.plan(alias, routingRequest(ctx, undefined, undefined));
    if (plan === undefined || plan.ordered.length === 0) continue;
    ctx.alias = alias;
    ctx.route = plan.route;
    ctx.candidates = plan.ordered;
    if (ctx.routeDecision) ctx.routeDecision.reason += `; fell back to ${alias} (${kind})`;
    ctx.setHeader("x-tollgate-fallback", `${from} -> ${alias} (${kind})`);
    return { from, ordered: plan.ordered };
  }
  return undefined;
}

function logAttempt(ctx: RequestContext, deployment: Deployment, how: string): void {
  if (ctx.attemptLog === undefined) ctx.attemptLog = [];
  ctx.attemptLog.push(`${deployment.id} ${how}`);
}

function attemptsValue(ctx: RequestContext): string {
  return `${ctx.attempts}; ${(ctx.attemptLog ?? []).join(", ")}`;
}

function withAttempts(ctx: RequestContext, err: unknown): unknown {
  ctx.setHeader(ATTEMPTS_HEADER, attemptsValue(ctx));
  return err;
}

function exhausted(ctx: RequestContext): GatewayError {
  ctx.setHeader(ATTEMPTS_HEADER, attemptsValue(ctx));
  return new GatewayError(`No deployment of '${ctx.alias}' can serve this request now: every one is unavailable.`, {
    status: 503,
    type: "api_error",
    code: "no_deployment_available",
    headers: { "retry-after": "1" },
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
