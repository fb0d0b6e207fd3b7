import { createHmac, timingSafeEqual } from "node:crypto";

/** Budget levels crossed; a forecast crossing a level before the period ends; a spend or request-rate anomaly. */
export type AlertKind =
  | "soft"
  | "hard"
  | "emergency"
  | "projected_budget_breach"
  | "anomaly_warning"
  | "anomaly_critical";

/** What an anomaly alert measured: the rate against its baseline. */
export interface AnomalyDetail {
  metric: "spend" | "requests";
  /** Per hour, in USD for spend and requests for requests. */
  rate: number;
  baseline: number;
  zScore: number;
}

/** An event worth telling a human about; built by the budget service, the forecaster or the anomaly detector. */
export interface AlertEvent {
  kind: AlertKind;
  /** The budget scope, e.g. "team:search" or "key:k_123/alias:gpt-4o". */
  scope: string;
  /** The period instance, e.g. "monthly:2026-11": deduplication is per instance, so a new period alerts again. */
  period: string;
  /** The fraction that triggered the event (0.8 for an 80% soft level, 1 for hard); projected_budget_breach: the
   * level's limit in USD, so each level of a scope alerts once per period. */
  threshold: number;
  usedFraction: number;
  spentUsd: number;
  limitUsd: number;
  /** When it happened: an ISO 8601 string or epoch milliseconds. */
  at: string | number;
  /** projected_budget_breach: the day (YYYY-MM-DD) the forecast reaches the limit, and the forecast period end. */
  projectedDate?: string;
  forecastUsd?: number;
  /** anomaly_*: what was measured. */
  anomaly?: AnomalyDetail;
}

export type AlertFormat = "json" | "slack";

/** Once per (scope, period, threshold, kind); also sent as x-tollgate-event-id so a receiver can dedupe too. */
export function alertId(event: AlertEvent): string {
  return `${event.scope}|${event.period}|${event.threshold}|${event.kind}`;
}

const percent = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;
const usd = (amount: number) => `$${amount.toFixed(2)}`;

const HEADLINE: Record<AlertKind, string> = {
  soft: ":warning: Budget warning",
  hard: ":no_entry: Budget exceeded",
  emergency: ":rotating_light: Emergency brake",
  projected_budget_breach: ":crystal_ball: Projected budget breach",
  anomaly_warning: ":chart_with_upwards_trend: Spend anomaly",
  anomaly_critical: ":rotating_light: Critical spend anomaly",
};

const TYPE: Record<AlertKind, string> = {
  soft: "tollgate.budget.alert",
  hard: "tollgate.budget.alert",
  emergency: "tollgate.budget.alert",
  projected_budget_breach: "tollgate.forecast.alert",
  anomaly_warning: "tollgate.anomaly.alert",
  anomaly_critical: "tollgate.anomaly.alert",
};

function slackText(event: AlertEvent, at: string): string {
  const head = `${HEADLINE[event.kind]} for ${event.scope} (${event.period})`;
  if (event.kind === "projected_budget_breach") {
    return `${head}: forecast reaches ${usd(event.limitUsd)} on ${event.projectedDate ?? "?"} (${usd(event.forecastUsd ?? 0)} by the period end; ${usd(event.spentUsd)} spent so far). ${at}`;
  }
  if (event.anomaly !== undefined) {
    const a = event.anomaly;
    const unit = a.metric === "spend" ? "USD/h" : "requests/h";
    return `${head}: ${a.metric} rate ${a.rate.toFixed(2)} ${unit} against a baseline of ${a.baseline.toFixed(2)} (modified z ${a.zScore.toFixed(1)}). ${at}`;
  }
  const what =
    event.kind === "emergency"
      ? "spend velocity tripped the brake; requests are blocked until an admin resets it or the cool-down passes"
      : event.kind === "hard"
        ? "requests are refused until the period resets"
        : "requests still pass";
  return `${head}: ${percent(event.usedFraction)} used, ${usd(event.spentUsd)} of ${usd(event.limitUsd)} (threshold ${percent(event.threshold)}); ${what}. ${at}`;
}

export function alertBody(event: AlertEvent, format: AlertFormat): string {
  const at = typeof event.at === "number" ? new Date(event.at).toISOString() : event.at;
  if (format === "slack") return JSON.stringify({ text: slackText(event, at) });
  return JSON.stringify({
    type: TYPE[event.kind],
    id: alertId(event),
    kind: event.kind,
    scope: event.scope,
    period: event.period,
    threshold: event.threshold,
    usedFraction: event.usedFraction,
    spentUsd: event.spentUsd,
    limitUsd: event.limitUsd,
    ...(event.projectedDate !== undefined
      ? { projectedDate: event.projectedDate, forecastUsd: event.forecastUsd }
      : {}),
    ...(event.anomaly !== undefined ? { anomaly: event.anomaly } : {}),
    at,
  });
}

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`), the value of x-tollgate-signature. */
export function signAlert(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** For receivers (and tests): constant-time check of the signature and of the timestamp's age. */
export function verifyAlertSignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  toleranceSec = 300,
  nowMs = Date.now(),
): boolean {
  const ts = Number(timestamp);
  if (!Number.isFinite(ts) || Math.abs(nowMs / 1000 - ts) > toleranceSec) return false;
  const expected = Buffer.from(signAlert(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
