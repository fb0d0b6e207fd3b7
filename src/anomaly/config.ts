import { z } from "zod";

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

export const AnomalyConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Watch each budget scope's spend and request rate for anomalies."),
    window_minutes: z
      .number()
      .int()
      .min(1)
      .max(15)
      .default(5)
      .describe(
        "The current request rate, cost per request and spend are taken over this many whole minutes (5: a 10-minute 5x spike is caught within 5 minutes on a scope doing a few requests a minute).",
      ),
    z_threshold: z
      .number()
      .positive()
      .default(3.5)
      .describe(
        "The cost per request counts when its modified z-score 0.6745 (x - median) / MAD is above this against its baseline (the MAD of one request's log cost, scaled to the window's count);",
      ),
    burst_allowance: z
      .number()
      .min(1)
      .default(1.5)
      .describe(
        "the request rate counts when the window's request count is improbable under Poisson at this multiple of the baseline rate (a short burst is normal; a quiet scope needs enough requests to tell a spike from a burst plus chance),",
      ),
    count_alpha: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.0005)
      .describe("improbable meaning an upper-tail probability below this;"),
    min_ratio: z
      .number()
      .min(1)
      .default(3)
      .describe(
        "warn when the spend multiple the counted factors explain (request rate x cost per request) is at least this (busy days and short bursts are normal),",
      ),
    min_excess_usd_per_hour: z
      .number()
      .min(0)
      .default(2)
      .describe("and spend runs at least this much per hour above the baseline: the dollar floor."),
    critical_z: z.number().positive().default(10).describe("An anomaly at this z-score is critical."),
    critical_excess_usd_per_hour: z
      .number()
      .min(0)
      .default(25)
      .describe("An anomaly spending this much per hour above the baseline is critical."),
    sustain_minutes: z
      .number()
      .int()
      .positive()
      .default(15)
      .describe("An anomaly still going after this many minutes is critical."),
    clear_minutes: z
      .number()
      .int()
      .positive()
      .default(5)
      .describe("An anomaly closes (a cleared event) after this many minutes back within the thresholds."),
    slot_minutes: z
      .number()
      .int()
      .positive()
      .max(1440)
      .refine((m) => 1440 % m === 0, { message: "expected a divisor of 1440" })
      .default(15)
      .describe("Width of the seasonal slots the baseline is learned in (minute-of-week and minute-of-day)."),
    schedule_jitter_minutes: z
      .number()
      .int()
      .min(0)
      .max(120)
      .default(10)
      .describe(
        "A rate that is normal within this many minutes either side is normal now (a nightly job that starts late).",
      ),
    week_alpha: z
      .number()
      .gt(0)
      .max(1)
      .default(0.3)
      .describe("EWMA weight of the latest week in a minute-of-week slot's median and MAD."),
    min_weeks: z
      .number()
      .int()
      .positive()
      .default(2)
      .describe("Weeks a minute-of-week slot learns before it is the baseline."),
    day_alpha: z
      .number()
      .gt(0)
      .max(1)
      .default(0.2)
      .describe("EWMA weight of the latest day in a minute-of-day slot (weekdays and weekends apart)."),
    min_days: z
      .number()
      .int()
      .positive()
      .default(3)
      .describe("Days a minute-of-day slot learns before it is the baseline (while weeks are too few)."),
    recent_minutes: z
      .number()
      .int()
      .min(10)
      .max(240)
      .default(60)
      .describe(
        "Until then the baseline is the last this many minutes; a newly seen scope is not judged before it has them.",
      ),
    timezone: z
      .string()
      .refine(isTimeZone, { message: "expected an IANA time zone" })
      .default("UTC")
      .describe("IANA time zone whose days and weeks the slots follow (business hours, weekends)."),
    max_scopes: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Scopes watched (about 25 KB each); past it the least recently active is forgotten."),
    brake_on_critical: z
      .boolean()
      .default(false)
      .describe("A critical anomaly asks for the scope's emergency brake (a budget may decide per scope)."),
  })
  .strict();

export type AnomalyConfig = z.infer<typeof AnomalyConfigSchema>;
export type AnomalyConfigInput = z.input<typeof AnomalyConfigSchema>;
