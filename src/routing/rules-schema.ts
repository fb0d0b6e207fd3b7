import { z } from "zod";
import { StrategySchema } from "./config.js";

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const DENY_STATUSES = [400, 403, 429] as const;

/** True when Intl knows the IANA zone (the same check the rules engine's clocks rely on). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

const patterns = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .describe("A value or a list of values (any may match); `*` matches any run of characters, `?` one.");

const RangeSchema = z
  .object({
    gt: z.number().nonnegative().optional().describe("Holds above this."),
    gte: z.number().nonnegative().optional().describe("Holds at or above this."),
    lt: z.number().nonnegative().optional().describe("Holds below this."),
    lte: z.number().nonnegative().optional().describe("Holds at or below this."),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.gt === undefined && r.gte === undefined && r.lt === undefined && r.lte === undefined) {
      ctx.addIssue({ code: "custom", message: "expected at least one of gt, gte, lt, lte" });
    }
    if (r.gt !== undefined && r.gte !== undefined)
      ctx.addIssue({ code: "custom", message: "expected gt or gte, not both" });
    if (r.lt !== undefined && r.lte !== undefined)
      ctx.addIssue({ code: "custom", message: "expected lt or lte, not both" });
    const low = r.gt ?? r.gte;
    const high = r.lt ?? r.lte;
    const strict = r.gt !== undefined || r.lt !== undefined;
    if (low !== undefined && high !== undefined && (low > high || (low === high && strict))) {
      ctx.addIssue({
        code: "custom",
        message: "expected a range some value can fall in (the lower bound is past the upper)",
      });
    }
  });

// "9:00" and "09:00" both read as nine o'clock; YAML 1.2 (the yaml package's default) keeps 22:00 a string.
const clockTime = z.string().regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'expected a 24-hour time such as "09:00"');

const TimeWindowSchema = z
  .object({
    between: z
      .tuple([clockTime, clockTime])
      .refine(([from, to]) => toMinutes(from) !== toMinutes(to), "expected two different times")
      .describe(
        'Local ["from", "to"]: from inclusive, to exclusive. A window that wraps midnight (["22:00", "06:00"]) holds from 22:00 until 06:00 the next morning.',
      ),
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .optional()
      .describe(
        "Days the window starts on (every day when unset); the hours after midnight of a wrapping window belong to the day it started.",
      ),
    timezone: z
      .string()
      .refine(isTimeZone, "expected an IANA time zone such as Europe/Berlin")
      .optional()
      .describe("IANA time zone of the window; the gateway's rules time zone (UTC unless set) when unset."),
  })
  .strict();

const HeaderConditionSchema = z.union([
  patterns,
  z.object({ present: z.boolean().describe("true: the header is sent (any value); false: it is absent.") }).strict(),
]);

export const RuleConditionsSchema = z
  .object({
    alias: patterns.optional().describe("The model alias the client asked for."),
    key: patterns.optional().describe("The caller's key id (never its secret)."),
    team: patterns.optional().describe("The caller's team id."),
    org: patterns.optional().describe("The caller's org id."),
    user: patterns.optional().describe("The request body's `user` field."),
    headers: z
      .record(z.string().min(1), HeaderConditionSchema)
      .optional()
      .describe("Request headers by name (case-insensitive): values to match, or { present: true | false }."),
    tags: z
      .record(z.string().min(1), patterns)
      .optional()
      .describe("The caller's key metadata tags: values to match per tag."),
    prompt_tokens: RangeSchema.optional().describe("Predicted prompt tokens, e.g. { gt: 8000 }."),
    cost_usd: RangeSchema.optional().describe("Predicted cost of the request in USD, e.g. { gte: 0.5 }."),
    has_tools: z.boolean().optional().describe("Whether the request offers tools (functions)."),
    has_images: z.boolean().optional().describe("Whether the request's messages carry images."),
    time: TimeWindowSchema.optional().describe("A local time-of-day window, optionally on some weekdays only."),
  })
  .strict();

const DenySchema = z
  .object({
    message: z.string().min(1).optional().describe("Error message the client sees; names the rule when unset."),
    status: z.literal(DENY_STATUSES).default(403).describe("HTTP status of the refusal: 403, 429 or 400."),
  })
  .strict();

export const RuleActionsSchema = z
  .object({
    route_to: z.string().min(1).optional().describe("Serve the request with this model alias instead."),
    strategy: StrategySchema.optional().describe(
      "Routing strategy for this request: weighted, latency, cost, quality, geo, adaptive; or a mode: manual (weighted), cost-first (cost), latency-first (latency).",
    ),
    max_cost_usd: z
      .number()
      .positive()
      .optional()
      .describe("Most this request may cost in USD; refused (or routed cheaper) when predicted above."),
    deny: DenySchema.optional().describe("Refuse the request; cannot be combined with another action."),
  })
  .strict()
  .superRefine((then, ctx) => {
    const others = (["route_to", "strategy", "max_cost_usd"] as const).filter((k) => then[k] !== undefined);
    if (then.deny !== undefined && others.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["deny"],
        message: `expected deny alone: a denied request is never served, so ${others.join(", ")} would never apply`,
      });
    }
    if (then.deny === undefined && others.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "expected at least one action: route_to, strategy, max_cost_usd or deny",
      });
    }
  });

export const RuleSchema = z
  .object({
    name: z.string().min(1).describe("Unique name, shown in logs, headers and explain output."),
    when: RuleConditionsSchema.default({}).describe(
      "Conditions that must all hold; empty or unset matches every request.",
    ),
    // biome-ignore lint/suspicious/noThenProperty: the YAML key reads as "when ... then ..."; its value is never a function, so no rule is a thenable.
    then: RuleActionsSchema.describe("What to do with a matching request."),
  })
  .strict();

export const RulesSchema = z
  .array(RuleSchema)
  .superRefine(
    (rules, ctx) => {
      // Runs even when a rule failed elsewhere, so one start-up reports every problem; hence the defensive checks.
      const firstIndex = new Map<string, number>();
      rules.forEach((rule, i) => {
        const name: unknown = (rule as { name?: unknown } | null)?.name;
        if (typeof name !== "string") return;
        const first = firstIndex.get(name);
        if (first === undefined) firstIndex.set(name, i);
        else
          ctx.addIssue({
            code: "custom",
            path: [i, "name"],
            message: `expected a unique rule name, but "${name}" is also the name of rules[${first}]`,
          });
      });
    },
    { when: () => true },
  )
  .default([])
  .describe("Routing rules, checked in order before routing; the first whose conditions all hold applies.");

export type RoutingRule = z.infer<typeof RuleSchema>;
export type RuleConditions = z.infer<typeof RuleConditionsSchema>;
export type RuleActions = z.infer<typeof RuleActionsSchema>;
export type TimeWindow = z.infer<typeof TimeWindowSchema>;
export type NumberRange = z.infer<typeof RangeSchema>;

/** "HH:MM" to minutes since midnight. */
export function toMinutes(clock: string): number {
  const colon = clock.indexOf(":");
  return Number(clock.slice(0, colon)) * 60 + Number(clock.slice(colon + 1));
}

/** A `route_to` naming no model alias, with the path of the offending field. */
export interface RuleTargetIssue {
  path: (string | number)[];
  message: string;
}

/** Issues for every `route_to` that names no alias in `aliases`; the config schema adds them as its own issues. */
export function ruleTargetIssues(rules: readonly RoutingRule[], aliases: ReadonlySet<string>): RuleTargetIssue[] {
  const issues: RuleTargetIssue[] = [];
  rules.forEach((rule, i) => {
    const target = rule.then.route_to;
    if (target === undefined || aliases.has(target)) return;
    issues.push({
      path: ["rules", i, "then", "route_to"],
      message: `expected one of the model aliases (${[...aliases].join(", ")}), got "${target}"`,
    });
  });
  return issues;
}

/** Human-readable `rules[i].then.route_to: ...` errors for every `route_to` naming an unknown alias. */
export function validateRuleTargets(rules: readonly RoutingRule[], aliases: ReadonlySet<string>): string[] {
  return ruleTargetIssues(rules, aliases).map(({ path, message }) => `rules[${path[1]}].then.route_to: ${message}`);
}
