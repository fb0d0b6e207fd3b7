import { compileAliasMatcher } from "../auth/aliases.js";
import type { StrategyName } from "./config.js";
import {
  isTimeZone,
  type NumberRange,
  type RoutingRule,
  type TimeWindow,
  toMinutes,
  WEEKDAYS,
} from "./rules-schema.js";

export {
  isTimeZone,
  type RoutingRule,
  RuleSchema,
  RulesSchema,
  type RuleTargetIssue,
  ruleTargetIssues,
  validateRuleTargets,
} from "./rules-schema.js";

/** What the pipeline knows about a request when rules run (after predict, before route). */
export interface RuleFacts {
  keyId?: string;
  teamId?: string;
  orgId?: string;
  /** The request body's `user` field. */
  user?: string;
  /** The alias the client asked for. */
  alias: string;
  /** Header value by lowercase name. */
  headers: (name: string) => string | undefined;
  /** The key's metadata tags. */
  tags?: Readonly<Record<string, string>>;
  promptTokens?: number;
  costUsd?: number;
  hasTools: boolean;
  hasImages: boolean;
  /** Epoch ms. */
  now: number;
}

export interface RuleAction {
  readonly routeTo?: string;
  readonly strategy?: StrategyName;
  readonly maxCostUsd?: number;
  readonly deny?: { readonly message: string; readonly status: number };
}

/** The rule that applies; the same frozen object for every request it matches. */
export interface RuleMatch {
  readonly index: number;
  readonly name: string;
  readonly action: RuleAction;
}

export interface RuleCheck {
  name: string;
  matched: boolean;
  /** The first condition that did not hold, e.g. "alias 'gpt-4o' not in [chat-*]". */
  failed?: string;
}

export interface RuleExplanation {
  matched?: RuleMatch;
  /** Rules in order, up to and including the one that matched (later ones are never looked at). */
  checked: RuleCheck[];
}

/** One condition of a rule, compiled: `holds` runs on every request, `whyNot` only for explain(). */
interface Condition {
  holds(facts: RuleFacts): boolean;
  whyNot(facts: RuleFacts): string;
}

interface CompiledRule {
  conditions: readonly Condition[];
  match: RuleMatch;
}

/**
 * Routing rules compiled once (globs, time windows, time zones) so that `match`, which runs on every request,
 * only compares: no regex construction and no allocation beyond one Intl call per time zone per minute.
 */
export class RuleSet {
  private readonly rules: readonly CompiledRule[];

  /** `timezone`: the zone of time windows that name none (default UTC). Throws on an unknown zone. */
  constructor(rules: readonly RoutingRule[], opts: { timezone?: string } = {}) {
    const timeZone = opts.timezone ?? "UTC";
    if (!isTimeZone(timeZone)) throw new Error(`routing rules: unknown time zone "${timeZone}"`);
    const clocks = new Map<string, ZoneClock>();
    this.rules = rules.map((rule, index) => compileRule(rule, index, timeZone, clocks));
  }

  get size(): number {
    return this.rules.length;
  }

  /** The first rule whose conditions all hold, or undefined (at once when there are no rules). */
  match(facts: RuleFacts): RuleMatch | undefined {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as CompiledRule;
      if (allHold(rule.conditions, facts)) return rule.match;
    }
    return undefined;
  }

  /** What `match` decides, with each rule checked and the first condition that failed it: for admins, not the hot path. */
  explain(facts: RuleFacts): RuleExplanation {
    const checked: RuleCheck[] = [];
    for (const rule of this.rules) {
      const failing = rule.conditions.find((c) => !c.holds(facts));
      if (failing === undefined) {
        checked.push({ name: rule.match.name, matched: true });
        return { matched: rule.match, checked };
      }
      checked.push({ name: rule.match.name, matched: false, failed: failing.whyNot(facts) });
    }
    return { checked };
  }
}

function allHold(conditions: readonly Condition[], facts: RuleFacts): boolean {
  for (let i = 0; i < conditions.length; i++) {
    if (!(conditions[i] as Condition).holds(facts)) return false;
  }
  return true;
}

function compileRule(rule: RoutingRule, index: number, timeZone: string, clocks: Map<string, ZoneClock>): CompiledRule {
  const when = rule.when;
  const conditions: Condition[] = [];
  // Cheap comparisons first; the time window (an Intl call once a minute) last. explain() reports in this order.
  if (when.alias !== undefined) conditions.push(valueCondition("alias", when.alias, (f) => f.alias));
  if (when.key !== undefined) conditions.push(valueCondition("key", when.key, (f) => f.keyId));
  if (when.team !== undefined) conditions.push(valueCondition("team", when.team, (f) => f.teamId));
  if (when.org !== undefined) conditions.push(valueCondition("org", when.org, (f) => f.orgId));
  if (when.user !== undefined) conditions.push(valueCondition("user", when.user, (f) => f.user));
  if (when.has_tools !== undefined) conditions.push(flagCondition("has_tools", when.has_tools, (f) => f.hasTools));
  if (when.has_images !== undefined) conditions.push(flagCondition("has_images", when.has_images, (f) => f.hasImages));
  if (when.prompt_tokens !== undefined) {
    conditions.push(rangeCondition("prompt_tokens", when.prompt_tokens, (f) => f.promptTokens));
  }
  if (when.cost_usd !== undefined) conditions.push(rangeCondition("cost_usd", when.cost_usd, (f) => f.costUsd));
  for (const [tag, spec] of Object.entries(when.tags ?? {})) {
    conditions.push(valueCondition(`tag ${tag}`, spec, (f) => tagValue(f.tags, tag)));
  }
  for (const [header, spec] of Object.entries(when.headers ?? {})) {
    const name = header.toLowerCase();
    if (typeof spec === "object" && !Array.isArray(spec)) conditions.push(presenceCondition(name, spec.present));
    else conditions.push(valueCondition(`header ${name}`, spec, (f) => f.headers(name)));
  }
  if (when.time !== undefined) conditions.push(timeCondition(when.time, timeZone, clocks));
  return { conditions, match: freezeMatch(rule, index) };
}

function freezeMatch(rule: RoutingRule, index: number): RuleMatch {
  const then = rule.then;
  const action: { -readonly [K in keyof RuleAction]: RuleAction[K] } = {};
  if (then.route_to !== undefined) action.routeTo = then.route_to;
  if (then.strategy !== undefined) action.strategy = then.strategy;
  if (then.max_cost_usd !== undefined) action.maxCostUsd = then.max_cost_usd;
  if (then.deny !== undefined) {
    action.deny = Object.freeze({
      message: then.deny.message ?? `request denied by routing rule "${rule.name}"`,
      status: then.deny.status,
    });
  }
  // Shared by every request the rule matches, so nobody may change it.
  return Object.freeze({ index, name: rule.name, action: Object.freeze(action) });
}

const quote = (v: string | undefined): string => (v === undefined ? "(none)" : `'${v}'`);

function valueCondition(
  label: string,
  spec: string | readonly string[],
  read: (facts: RuleFacts) => string | undefined,
): Condition {
  const list = typeof spec === "string" ? [spec] : spec;
  const matches = compileAliasMatcher(list);
  const shown = `[${list.join(", ")}]`;
  return {
    holds: (f) => {
      const v = read(f);
      return v !== undefined && matches(v);
    },
    whyNot: (f) => `${label} ${quote(read(f))} not in ${shown}`,
  };
}

// Tags come from stored JSON: string values only, so a tag named "constructor" never reads Object.prototype's.
function tagValue(tags: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  const v: unknown = tags?.[name];
  return typeof v === "string" ? v : undefined;
}

function presenceCondition(name: string, present: boolean): Condition {
  return {
    holds: (f) => (f.headers(name) !== undefined) === present,
    whyNot: () => `header ${name} is ${present ? "absent" : "present"}`,
  };
}

function flagCondition(label: string, expected: boolean, read: (facts: RuleFacts) => boolean): Condition {
  return {
    holds: (f) => read(f) === expected,
    whyNot: () => `${label} is ${!expected}`,
  };
}

function rangeCondition(label: string, range: NumberRange, read: (facts: RuleFacts) => number | undefined): Condition {
  // Unset bounds become infinities so `holds` is four comparisons without branches on the config.
  const gt = range.gt ?? Number.NEGATIVE_INFINITY;
  const gte = range.gte ?? Number.NEGATIVE_INFINITY;
  const lt = range.lt ?? Number.POSITIVE_INFINITY;
  const lte = range.lte ?? Number.POSITIVE_INFINITY;
  return {
    holds: (f) => {
      const v = read(f);
      return v !== undefined && v > gt && v >= gte && v < lt && v <= lte;
    },
    whyNot: (f) => {
      const v = read(f);
      if (v === undefined) return `${label} unknown`;
      if (!(v > gt)) return `${label} ${v} not > ${gt}`;
      if (!(v >= gte)) return `${label} ${v} not >= ${gte}`;
      if (!(v < lt)) return `${label} ${v} not < ${lt}`;
      return `${label} ${v} not <= ${lte}`;
    },
  };
}

const SHORT_WEEKDAY: Readonly<Record<string, number>> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

/**
 * Local minute-of-day and weekday (0 = Monday) in one time zone. Requests arrive in time order, so remembering
 * the last epoch minute turns all but one Intl call a minute into a comparison.
 */
class ZoneClock {
  minuteOfDay = 0;
  weekday = 0;
  private epochMinute = Number.NaN;
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      hour: "numeric",
      minute: "numeric",
    });
  }

  /** Sets minuteOfDay and weekday for the instant `now` (epoch ms). */
  at(now: number): void {
    const epochMinute = Math.floor(now / 60_000);
    if (epochMinute === this.epochMinute) return;
    let hour = 0;
    let minute = 0;
    for (const part of this.format.formatToParts(now)) {
      if (part.type === "hour") hour = Number(part.value);
      else if (part.type === "minute") minute = Number(part.value);
      else if (part.type === "weekday") this.weekday = SHORT_WEEKDAY[part.value] ?? 0;
    }
    this.minuteOfDay = hour * 60 + minute;
    this.epochMinute = epochMinute;
  }
}

function clockFor(timeZone: string, clocks: Map<string, ZoneClock>): ZoneClock {
  let clock = clocks.get(timeZone);
  if (clock === undefined) {
    if (!isTimeZone(timeZone)) throw new Error(`routing rules: unknown time zone "${timeZone}"`);
    clock = new ZoneClock(timeZone);
    clocks.set(timeZone, clock);
  }
  return clock;
}

function timeCondition(window: TimeWindow, defaultZone: string, clocks: Map<string, ZoneClock>): Condition {
  const clock = clockFor(window.timezone ?? defaultZone, clocks);
  const [fromText, toText] = window.between;
  const from = toMinutes(fromText);
  const to = toMinutes(toText);
  const wraps = from > to;
  // Bit d set: the window may start on weekday d (0 = Monday).
  const startDays = window.days ? window.days.reduce((mask, d) => mask | (1 << WEEKDAYS.indexOf(d)), 0) : 0x7f;
  const startsOn = (weekday: number): boolean => ((startDays >> weekday) & 1) === 1;
  const shown = `${fromText}-${toText}${window.days ? ` on [${window.days.join(", ")}]` : ""}`;
  return {
    holds: (f) => {
      clock.at(f.now);
      const m = clock.minuteOfDay;
      if (!wraps) return m >= from && m < to && startsOn(clock.weekday);
      if (m >= from) return startsOn(clock.weekday);
      // After midnight, the window belongs to the day before: Friday's 22:00-06:00 still holds Saturday 03:00.
      return m < to && startsOn((clock.weekday + 6) % 7);
    },
    whyNot: (f) => {
      clock.at(f.now);
      const hh = String(Math.floor(clock.minuteOfDay / 60)).padStart(2, "0");
      const mm = String(clock.minuteOfDay % 60).padStart(2, "0");
      return `time ${DAY_NAMES[clock.weekday]} ${hh}:${mm} (${clock.timeZone}) outside ${shown}`;
    },
  };
}
