import type { MetricsConfig } from "../metrics/config.js";
import { GEN_AI_OPERATION, GEN_AI_PROVIDER, genAiErrorType } from "../metrics/genai.js";
import type { HistogramSeries } from "../metrics/histogram.js";
import type { Metrics } from "../metrics/index.js";
import type { RequestContext } from "../pipeline/context.js";
import type { AttemptObserver } from "../pipeline/stages/call.js";
import type { Deployment } from "../routing/table.js";

/** The gen_ai series of one (operation, provider, upstream model). */
interface GenAiSeries {
  input: HistogramSeries;
  output: HistogramSeries;
  firstToken: HistogramSeries;
  ok: HistogramSeries;
  failed: Map<string, HistogramSeries>;
  labels: Readonly<Record<string, string>>;
}

/** An identity's spend per deployment, summed here and flushed to prom-client at scrape time. */
interface SpendSeries {
  child: { inc(value: number): void };
  pending: number;
}

interface IdentityEntry {
  labels: Readonly<Record<string, string>>;
  byDeployment: Map<Deployment, SpendSeries>;
}

export interface GenAiMetrics {
  /** Per upstream attempt: gen_ai_client_operation_duration_seconds. */
  readonly attempts: AttemptObserver;
  /** Once the request is over (usage and cost final): token usage, time to first token, spend. */
  record(ctx: RequestContext): void;
}

/**
 * The OpenTelemetry GenAI metrics and tollgate_spend_usd_total. As in observe.ts, every series is bound once
 * (per deployment object, then per identity) and looked up by object or by the key id, never by a string built
 * per request.
 */
export function genAiMetrics(metrics: Metrics, config: MetricsConfig): GenAiMetrics {
  // Two deployments (of two aliases, say) may share provider and model: they share the series too.
  const byLabels = new Map<string, GenAiSeries>();
  const byDeployment = new Map<Deployment, [GenAiSeries | undefined, GenAiSeries | undefined]>();
  const seriesFor = (d: Deployment, endpoint: RequestContext["endpoint"]): GenAiSeries => {
    let pair = byDeployment.get(d);
    if (pair === undefined) {
      pair = [undefined, undefined];
      byDeployment.set(d, pair);
    }
    const slot = endpoint === "chat" ? 0 : 1;
    const found = pair[slot];
    if (found !== undefined) return found;
    const labels = {
      gen_ai_operation_name: GEN_AI_OPERATION[endpoint],
      gen_ai_provider_name: GEN_AI_PROVIDER[d.provider.type] ?? d.provider.type,
      gen_ai_request_model: d.upstreamModel,
    };
    const key = `${labels.gen_ai_operation_name}\u0000${labels.gen_ai_provider_name}\u0000${labels.gen_ai_request_model}`;
    let series = byLabels.get(key);
    if (series === undefined) {
      series = {
        input: metrics.genAiTokenUsage.bind({ ...labels, gen_ai_token_type: "input" }),
        output: metrics.genAiTokenUsage.bind({ ...labels, gen_ai_token_type: "output" }),
        firstToken: metrics.genAiTimeToFirstToken.bind(labels),
        ok: metrics.genAiOperationDuration.bind(labels),
        failed: new Map(),
        labels,
      };
      byLabels.set(key, series);
    }
    pair[slot] = series;
    return series;
  };
  const observeFailure = (series: GenAiSeries, errorType: string, seconds: number) => {
    let child = series.failed.get(errorType);
    if (child === undefined) {
      child = metrics.genAiOperationDuration.bind({ ...series.labels, error_type: errorType });
      series.failed.set(errorType, child);
    }
    child.observe(seconds);
  };

  // A stream's attempt ends with the request: its last byte, a cut, or the client leaving.
  const streamEnded = (ctx: RequestContext) => {
    const d = ctx.deployment;
    if (d === undefined) return;
    const seconds = (ctx.startedAt + (ctx.durationMs ?? 0) - ctx.attemptStartedAt) / 1000;
    const series = seriesFor(d, ctx.endpoint);
    if (ctx.outcome === "completed") series.ok.observe(seconds);
    else if (ctx.outcome === "client_abort") observeFailure(series, "client_closed", seconds);
    else observeFailure(series, ctx.error ? genAiErrorType(ctx.error) : "_OTHER", seconds);
  };
  const attempts: AttemptObserver = {
    started: () => undefined,
    failed(ctx, d, err) {
      observeFailure(
        seriesFor(d, ctx.endpoint),
        genAiErrorType(err),
        (performance.now() - ctx.attemptStartedAt) / 1000,
      );
    },
    answered(ctx, d) {
      if (ctx.result?.stream) ctx.whenDone(streamEnded);
      else seriesFor(d, ctx.endpoint).ok.observe((performance.now() - ctx.attemptStartedAt) / 1000);
    },
  };

  const spend = spendSeries(metrics, config);
  return {
    attempts,
    record(ctx) {
      const d = ctx.deployment;
      if (d === undefined) return; // refused, or answered from the cache: no upstream operation
      if (ctx.costUsd !== undefined) spend(ctx, d).pending += ctx.costUsd;
      const usage = ctx.usage;
      // A stream cut short carries an estimate, not the upstream's count: the conventions want counts only.
      const counted = usage !== undefined && ctx.partialChunks === undefined;
      const firstToken = ctx.stream && ctx.outcome === "completed" && ctx.firstByteMs !== undefined;
      if (!counted && !firstToken) return;
      const series = seriesFor(d, ctx.endpoint);
      if (counted) {
        series.input.observe(usage.prompt_tokens);
        if (usage.completion_tokens !== undefined) series.output.observe(usage.completion_tokens);
      }
      if (firstToken) series.firstToken.observe((ctx.firstByteMs as number) / 1000);
    },
  };
}

/**
 * tollgate_spend_usd_total's series for a request: by key id, then deployment (which implies alias and
 * provider). At most `max_spend_series` distinct identity label sets; identities seen after share "other".
 */
function spendSeries(metrics: Metrics, config: MetricsConfig) {
  const kept = config.spend_labels;
  const identities = new Map<string, IdentityEntry>();
  const labelSets = new Set<string>();
  const overflow: Record<string, string> = {};
  for (const name of kept) overflow[name] = "other";
  const entryFor = (ctx: RequestContext): IdentityEntry => {
    const identity = ctx.identity;
    const all: Record<string, string> = {
      org: identity?.orgId ?? "none",
      team: identity?.teamId ?? "none",
      key: identity?.keyId ?? "none",
    };
    let labels: Record<string, string> = {};
    for (const name of kept) labels[name] = all[name] as string;
    const set = kept.map((name) => labels[name]).join("\u0000");
    if (!labelSets.has(set)) {
      if (labelSets.size < config.max_spend_series) labelSets.add(set);
      else labels = overflow;
    }
    return { labels, byDeployment: new Map() };
  };
  const entries: SpendSeries[] = [];
  metrics.onScrape(() => {
    for (const s of entries) {
      if (s.pending) s.child.inc(s.pending);
      s.pending = 0;
    }
  });
  return (ctx: RequestContext, d: Deployment): SpendSeries => {
    const keyId = ctx.identity?.keyId ?? "";
    let entry = identities.get(keyId);
    if (entry === undefined) {
      entry = entryFor(ctx);
      identities.set(keyId, entry);
    }
    let series = entry.byDeployment.get(d);
    if (series === undefined) {
      const alias = ctx.route?.alias ?? ctx.alias;
      series = { child: metrics.spendUsd.labels({ ...entry.labels, alias, provider: d.providerName }), pending: 0 };
      entry.byDeployment.set(d, series);
      entries.push(series);
    }
    return series;
  };
}
