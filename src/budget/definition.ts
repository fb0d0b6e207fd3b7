import { z } from "zod";

/** Who a budget applies to; `alias` / `provider` narrow it to one model or provider within the scope. */
export const BUDGET_SCOPES = ["org", "team", "key"] as const;
export const BUDGET_PERIODS = ["daily", "weekly", "monthly", "total"] as const;

export const EmergencyBrakeSchema = z
  .object({
    usd_per_minute: z.number().positive().optional().describe("Block the scope when it spends faster than this."),
    multiple_of_trailing_hour: z
      .number()
      .gt(1)
      .optional()
      .describe("Block when the last minute's spend exceeds this multiple of the trailing hour's per-minute mean."),
    cooldown_s: z
      .number()
      .int()
      .positive()
      .default(900)
      .describe("How long the brake holds unless an admin resets it first."),
    on_critical_anomaly: z
      .boolean()
      .default(false)
      .describe("Also trip the brake when the anomaly detector flags this scope's spend or request rate as critical."),
  })
  .strict();

export const BudgetSchema = z
  .object({
    scope: z.enum(BUDGET_SCOPES).describe("org, team or key."),
    id: z.string().min(1).describe("The org, team or key id (a key's id, never its secret)."),
    alias: z.string().min(1).optional().describe("Only requests for this alias count and are limited."),
    provider: z.string().min(1).optional().describe("Only requests served by this provider type count."),
    period: z.enum(BUDGET_PERIODS).default("monthly").describe("When spend resets, aligned to budgets.timezone."),
    limit_usd: z.number().positive().optional().describe("Cost limit in USD for the period."),
    limit_tokens: z.number().int().positive().optional().describe("Token limit (prompt + completion) for the period."),
    level: z
      .enum(["soft", "hard"])
      .default("hard")
      .describe("soft: warn (header, alert) and serve; hard: refuse what would go over."),
    warn_at: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe("Fraction used from which responses carry x-tollgate-budget-warning and a soft alert fires."),
    drop_model_when_over: z
      .boolean()
      .default(false)
      .describe("Per-model guardrail: over budget, route the alias's other deployments instead of failing."),
    latency_target_ms: z.number().positive().optional().describe("Per-model guardrail: p50 latency target."),
    emergency: EmergencyBrakeSchema.optional().describe("Spend-velocity brake for this scope."),
    degrade: z
      .object({
        at: z.number().gt(0).max(1).describe("Fraction used from which requests are served by `to`."),
        to: z.string().min(1).describe("The cheaper alias that serves them."),
      })
      .strict()
      .optional()
      .describe("Past a threshold, serve requests with a cheaper alias (said in x-tollgate-degraded)."),
  })
  .strict()
  .refine((b) => b.limit_usd !== undefined || b.limit_tokens !== undefined || b.emergency !== undefined, {
    message: "expected limit_usd, limit_tokens or emergency",
  });

export const BudgetsConfigSchema = z
  .object({
    timezone: z.string().default("UTC").describe("IANA time zone that daily, weekly and monthly periods align to."),
    redis_down: z
      .enum(["fail_closed", "fail_open"])
      .default("fail_closed")
      .describe("With Redis unreachable: refuse requests under a hard budget (503), or serve them unchecked."),
    reservation_ttl_s: z
      .number()
      .int()
      .positive()
      .default(600)
      .describe("A reservation a crashed replica never settled expires after this."),
    definitions: z.array(BudgetSchema).default([]).describe("Budgets declared in routes.yaml (GitOps)."),
    alerts: z
      .array(
        z
          .object({
            url: z.url().describe("Webhook receiving soft, hard and emergency budget events."),
            format: z.enum(["json", "slack"]).default("json").describe("Generic JSON, or Slack's {text}."),
            secret: z
              .string()
              .min(1)
              .optional()
              .describe("HMAC-SHA256 key for x-tollgate-signature (a ${ENV_VAR} reference)."),
          })
          .strict(),
      )
      .default([])
      .describe(
        "Alert webhooks (budget levels, projected breaches, anomalies): signed, deduplicated per threshold and period, retried, off the request path.",
      ),
    forecast_alert_interval_s: z
      .number()
      .int()
      .min(0)
      .default(3600)
      .describe(
        "How often the spend forecasts are refitted and projected_budget_breach alerts raised (0: never; GET /api/forecasts still fits on demand).",
      ),
  })
  .strict();

export type BudgetDefinition = z.infer<typeof BudgetSchema>;
export type BudgetsConfig = z.infer<typeof BudgetsConfigSchema>;
