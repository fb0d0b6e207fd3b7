// biome-ignore-all lint/suspicious/noThenProperty: rules are written as YAML reads, `when` ... `then`; never a function.
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { type RuleFacts, RuleSet, RulesSchema, validateRuleTargets } from "../../src/routing/rules.js";

type RulesInput = z.input<typeof RulesSchema>;

/** Parses rules as routes.yaml would hand them over, and compiles them. */
function ruleSet(rules: RulesInput, opts?: { timezone?: string }): RuleSet {
  return new RuleSet(RulesSchema.parse(rules), opts);
}

function facts(over: Partial<Omit<RuleFacts, "headers">> & { headers?: Record<string, string> } = {}): RuleFacts {
  const headers = over.headers ?? {};
  return {
    alias: "chat-fast",
    hasTools: false,
    hasImages: false,
    now: Date.parse("2026-01-07T12:00:00Z"), // a Wednesday
    ...over,
    headers: (name) => headers[name],
  };
}

/** Whether a single rule with `when` matches `f`. */
function holds(when: NonNullable<RulesInput>[number]["when"], f: RuleFacts, opts?: { timezone?: string }): boolean {
  return ruleSet([{ name: "r", when, then: { strategy: "cost" } }], opts).match(f) !== undefined;
}

function issuesOf(rules: unknown): { path: PropertyKey[]; message: string }[] {
  const parsed = RulesSchema.safeParse(rules);
  if (parsed.success) throw new Error("expected the rules to be rejected");
  return parsed.error.issues.map(({ path, message }) => ({ path, message }));
}

const at = (iso: string) => Date.parse(iso);

describe("routing rules: matching order", () => {
  it("applies the first matching rule, in file order", () => {
    const rules = ruleSet([
      { name: "big-prompts", when: { prompt_tokens: { gt: 1000 } }, then: { route_to: "long-context" } },
      { name: "chat", when: { alias: "chat-*" }, then: { strategy: "latency" } },
      { name: "everything", then: { strategy: "cost" } },
    ]);
    expect(rules.match(facts({ promptTokens: 5000 }))?.name).toBe("big-prompts");
    expect(rules.match(facts({ promptTokens: 10 }))?.name).toBe("chat");
    expect(rules.match(facts({ promptTokens: 10, alias: "gpt-4o" }))).toMatchObject({ index: 2, name: "everything" });
  });

  it("matches every request with an empty or absent when", () => {
    expect(holds({}, facts())).toBe(true);
    expect(ruleSet([{ name: "all", then: { max_cost_usd: 1 } }]).match(facts({ alias: "x" }))?.name).toBe("all");
  });

  it("returns nothing when no rule is configured or none matches", () => {
    expect(ruleSet([]).match(facts())).toBeUndefined();
    expect(new RuleSet(RulesSchema.parse(undefined)).size).toBe(0);
    expect(
      ruleSet([{ name: "r", when: { alias: "other" }, then: { strategy: "cost" } }]).match(facts()),
    ).toBeUndefined();
  });

  it("requires every condition of a rule to hold", () => {
    const when = { alias: "chat-*", team: "ml" };
    expect(holds(when, facts({ teamId: "ml" }))).toBe(true);
    expect(holds(when, facts({ teamId: "web" }))).toBe(false);
    expect(holds(when, facts({ teamId: "ml", alias: "gpt-4o" }))).toBe(false);
  });

  it("hands back the same frozen match for every request", () => {
    const rules = ruleSet([{ name: "r", then: { route_to: "cheap" } }]);
    const first = rules.match(facts());
    expect(rules.match(facts())).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.action)).toBe(true);
  });
});

describe("routing rules: conditions", () => {
  it("matches the alias by exact name, glob or list", () => {
    expect(holds({ alias: "chat-fast" }, facts())).toBe(true);
    expect(holds({ alias: "chat-*" }, facts())).toBe(true);
    expect(holds({ alias: ["gpt-4o", "chat-?ast"] }, facts())).toBe(true);
    expect(holds({ alias: "chat-" }, facts())).toBe(false);
    expect(holds({ alias: ["gpt-*", "claude-*"] }, facts())).toBe(false);
  });

  it("matches key, team, org and user, and fails when the request has none", () => {
    const who = facts({ keyId: "key_ci", teamId: "ml-research", orgId: "acme", user: "alice@acme.com" });
    expect(holds({ key: "key_ci" }, who)).toBe(true);
    expect(holds({ team: "ml-*" }, who)).toBe(true);
    expect(holds({ org: ["globex", "acme"] }, who)).toBe(true);
    expect(holds({ user: "*@acme.com" }, who)).toBe(true);
    expect(holds({ key: "key_prod" }, who)).toBe(false);
    expect(holds({ team: "web-*" }, who)).toBe(false);
    expect(holds({ org: "globex" }, who)).toBe(false);
    expect(holds({ user: "*@globex.com" }, who)).toBe(false);
    expect(holds({ team: "*" }, facts())).toBe(false);
    expect(holds({ user: "*" }, facts())).toBe(false);
  });

  it("matches headers by case-insensitive name and glob value", () => {
    const f = facts({ headers: { "x-env": "staging-eu" } });
    expect(holds({ headers: { "X-Env": "staging-*" } }, f)).toBe(true);
    expect(holds({ headers: { "x-env": ["prod", "staging-eu"] } }, f)).toBe(true);
    expect(holds({ headers: { "x-env": "prod" } }, f)).toBe(false);
    expect(holds({ headers: { "x-other": "*" } }, f)).toBe(false);
  });

  it("checks header presence and absence", () => {
    const f = facts({ headers: { "x-debug": "" } });
    expect(holds({ headers: { "X-Debug": { present: true } } }, f)).toBe(true);
    expect(holds({ headers: { "x-debug": { present: false } } }, f)).toBe(false);
    expect(holds({ headers: { "x-trace": { present: false } } }, f)).toBe(true);
    expect(holds({ headers: { "x-trace": { present: true } } }, f)).toBe(false);
  });

  it("matches the key's metadata tags, and fails on a missing tag", () => {
    const f = facts({ tags: { env: "prod", tier: "gold" } });
    expect(holds({ tags: { env: "prod" } }, f)).toBe(true);
    expect(holds({ tags: { env: ["dev", "prod"], tier: "gold" } }, f)).toBe(true);
    expect(holds({ tags: { env: "dev" } }, f)).toBe(false);
    expect(holds({ tags: { env: "prod", tier: "silver" } }, f)).toBe(false);
    expect(holds({ tags: { owner: "*" } }, f)).toBe(false);
    expect(holds({ tags: { env: "*" } }, facts())).toBe(false);
  });

  it("never reads a tag from Object.prototype", () => {
    expect(holds({ tags: { constructor: "*" } }, facts({ tags: {} }))).toBe(false);
  });

  it("compares predicted prompt tokens against open and closed bounds", () => {
    expect(holds({ prompt_tokens: { gt: 8000 } }, facts({ promptTokens: 8001 }))).toBe(true);
    expect(holds({ prompt_tokens: { gt: 8000 } }, facts({ promptTokens: 8000 }))).toBe(false);
    expect(holds({ prompt_tokens: { gte: 8000 } }, facts({ promptTokens: 8000 }))).toBe(true);
    expect(holds({ prompt_tokens: { lt: 100 } }, facts({ promptTokens: 100 }))).toBe(false);
    expect(holds({ prompt_tokens: { lte: 100 } }, facts({ promptTokens: 100 }))).toBe(true);
    expect(holds({ prompt_tokens: { gte: 10, lt: 20 } }, facts({ promptTokens: 15 }))).toBe(true);
    expect(holds({ prompt_tokens: { gte: 10, lt: 20 } }, facts({ promptTokens: 25 }))).toBe(false);
  });

  it("fails a range condition when the prediction is unknown", () => {
    expect(holds({ prompt_tokens: { gte: 0 } }, facts())).toBe(false);
    expect(holds({ cost_usd: { gte: 0 } }, facts())).toBe(false);
  });

  it("compares the predicted cost", () => {
    expect(holds({ cost_usd: { gte: 0.5 } }, facts({ costUsd: 0.5 }))).toBe(true);
    expect(holds({ cost_usd: { gte: 0.5 } }, facts({ costUsd: 0.49 }))).toBe(false);
    expect(holds({ cost_usd: { lt: 0.01 } }, facts({ costUsd: 0.001 }))).toBe(true);
  });

  it("matches on tools and images being present or not", () => {
    expect(holds({ has_tools: true }, facts({ hasTools: true }))).toBe(true);
    expect(holds({ has_tools: true }, facts())).toBe(false);
    expect(holds({ has_tools: false }, facts({ hasTools: true }))).toBe(false);
    expect(holds({ has_images: true }, facts({ hasImages: true }))).toBe(true);
    expect(holds({ has_images: true }, facts())).toBe(false);
    expect(holds({ has_images: false }, facts())).toBe(true);
  });
});

describe("routing rules: time windows", () => {
  const office = { time: { between: ["09:00", "17:00"] as [string, string] } };

  it("holds from the start minute up to, not including, the end", () => {
    expect(holds(office, facts({ now: at("2026-01-07T09:00:00Z") }))).toBe(true);
    expect(holds(office, facts({ now: at("2026-01-07T16:59:59Z") }))).toBe(true);
    expect(holds(office, facts({ now: at("2026-01-07T17:00:00Z") }))).toBe(false);
    expect(holds(office, facts({ now: at("2026-01-07T08:59:59Z") }))).toBe(false);
  });

  it("handles a window that wraps midnight", () => {
    const nights = { time: { between: ["22:00", "06:00"] as [string, string] } };
    expect(holds(nights, facts({ now: at("2026-01-07T23:30:00Z") }))).toBe(true);
    expect(holds(nights, facts({ now: at("2026-01-07T00:00:00Z") }))).toBe(true);
    expect(holds(nights, facts({ now: at("2026-01-07T05:59:00Z") }))).toBe(true);
    expect(holds(nights, facts({ now: at("2026-01-07T06:00:00Z") }))).toBe(false);
    expect(holds(nights, facts({ now: at("2026-01-07T12:00:00Z") }))).toBe(false);
  });

  it("limits a window to some weekdays", () => {
    const weekdays = {
      time: { between: ["09:00", "17:00"] as [string, string], days: ["mon", "tue", "wed"] as const },
    };
    expect(holds({ time: { ...weekdays.time, days: [...weekdays.time.days] } }, facts())).toBe(true); // Wednesday
    expect(holds({ time: { ...weekdays.time, days: ["sat", "sun"] } }, facts())).toBe(false);
    expect(holds({ time: { ...weekdays.time, days: ["sat"] } }, facts({ now: at("2026-01-10T10:00:00Z") }))).toBe(true);
  });

  it("counts the hours after midnight of a wrapping window as the day it started", () => {
    const fridayNight = { time: { between: ["22:00", "06:00"] as [string, string], days: ["fri" as const] } };
    expect(holds(fridayNight, facts({ now: at("2026-01-09T23:00:00Z") }))).toBe(true); // Friday 23:00
    expect(holds(fridayNight, facts({ now: at("2026-01-10T03:00:00Z") }))).toBe(true); // Saturday 03:00
    expect(holds(fridayNight, facts({ now: at("2026-01-09T03:00:00Z") }))).toBe(false); // Friday 03:00 is Thursday's
    expect(holds(fridayNight, facts({ now: at("2026-01-10T23:00:00Z") }))).toBe(false); // Saturday 23:00
  });

  it("reads the clock in the rule's time zone, else the rule set's default", () => {
    const now = at("2026-01-07T08:30:00Z"); // 09:30 in Berlin (UTC+1 in winter), 03:30 in New York
    expect(holds({ time: { between: ["09:00", "17:00"], timezone: "Europe/Berlin" } }, facts({ now }))).toBe(true);
    expect(holds({ time: { between: ["09:00", "17:00"] } }, facts({ now }))).toBe(false);
    expect(holds({ time: { between: ["09:00", "17:00"] } }, facts({ now }), { timezone: "Europe/Berlin" })).toBe(true);
    const nyNight = { between: ["22:00", "06:00"] as [string, string], timezone: "America/New_York" };
    expect(holds({ time: nyNight }, facts({ now }), { timezone: "Europe/Berlin" })).toBe(true);
  });

  it("moves on with the clock across calls to the same rule set", () => {
    const rules = ruleSet([{ name: "office", when: office, then: { strategy: "quality" } }]);
    expect(rules.match(facts({ now: at("2026-01-07T10:00:00Z") }))).toBeDefined();
    expect(rules.match(facts({ now: at("2026-01-07T10:00:30Z") }))).toBeDefined();
    expect(rules.match(facts({ now: at("2026-01-07T18:00:00Z") }))).toBeUndefined();
    expect(rules.match(facts({ now: at("2026-01-08T10:00:00Z") }))).toBeDefined();
  });

  it("refuses an unknown default time zone when compiling", () => {
    expect(() => new RuleSet([], { timezone: "Mars/Olympus" })).toThrow(/Mars\/Olympus/);
  });
});

describe("routing rules: actions", () => {
  it("parses route_to, strategy and max_cost_usd into the match's action", () => {
    const rules = ruleSet([{ name: "r", then: { route_to: "cheap", strategy: "cost", max_cost_usd: 0.25 } }]);
    expect(rules.match(facts())).toEqual({
      index: 0,
      name: "r",
      action: { routeTo: "cheap", strategy: "cost", maxCostUsd: 0.25 },
    });
  });

  it("maps the named modes onto strategies", () => {
    const strategyOf = (mode: string) =>
      ruleSet([{ name: "r", then: { strategy: mode as "cost" } }]).match(facts())?.action.strategy;
    expect(strategyOf("manual")).toBe("weighted");
    expect(strategyOf("cost-first")).toBe("cost");
    expect(strategyOf("latency-first")).toBe("latency");
    expect(strategyOf("adaptive")).toBe("adaptive");
    for (const s of ["weighted", "latency", "cost", "quality", "geo"]) expect(strategyOf(s)).toBe(s);
  });

  it("rejects an unknown strategy", () => {
    expect(issuesOf([{ name: "r", then: { strategy: "fastest" } }])[0]?.path).toEqual([0, "then", "strategy"]);
  });

  it("denies with 403 and a message naming the rule by default", () => {
    const rules = ruleSet([{ name: "no-interns", then: { deny: {} } }]);
    expect(rules.match(facts())?.action).toEqual({
      deny: { status: 403, message: 'request denied by routing rule "no-interns"' },
    });
  });

  it("denies with the configured status and message", () => {
    const rules = ruleSet([{ name: "r", then: { deny: { status: 429, message: "try after 18:00" } } }]);
    expect(rules.match(facts())?.action.deny).toEqual({ status: 429, message: "try after 18:00" });
    expect(issuesOf([{ name: "r", then: { deny: { status: 500 } } }])[0]?.path).toEqual([0, "then", "deny", "status"]);
  });

  it("refuses deny combined with another action", () => {
    const issues = issuesOf([{ name: "r", then: { deny: {}, route_to: "cheap", max_cost_usd: 1 } }]);
    expect(issues).toEqual([
      { path: [0, "then", "deny"], message: expect.stringMatching(/deny alone.*route_to, max_cost_usd/) },
    ]);
  });

  it("refuses a rule without any action", () => {
    expect(issuesOf([{ name: "r", when: { alias: "x" }, then: {} }])).toEqual([
      { path: [0, "then"], message: expect.stringContaining("at least one action") },
    ]);
    expect(issuesOf([{ name: "r" }])[0]?.path).toEqual([0, "then"]);
  });
});

describe("routing rules: validation", () => {
  it("rejects a duplicate name, naming both indexes", () => {
    const issues = issuesOf([
      { name: "a", then: { strategy: "cost" } },
      { name: "b", then: { strategy: "cost" } },
      { name: "a", then: { strategy: "latency" } },
    ]);
    expect(issues).toEqual([
      { path: [2, "name"], message: expect.stringContaining('"a" is also the name of rules[0]') },
    ]);
  });

  it("reports duplicate names along with other errors in the same rules", () => {
    const issues = issuesOf([
      { name: "a", then: { strategy: "cost" } },
      { name: "a", then: { strategy: "nope" } },
    ]);
    expect(issues.map((i) => i.path)).toEqual([
      [1, "then", "strategy"],
      [1, "name"],
    ]);
  });

  it("points errors at the offending field", () => {
    const pathOf = (when: unknown) => issuesOf([{ name: "r", when, then: { strategy: "cost" } }])[0]?.path;
    expect(pathOf({ time: { between: ["09:00", "25:00"] } })).toEqual([0, "when", "time", "between", 1]);
    expect(pathOf({ time: { between: ["09:00", "09:00"] } })).toEqual([0, "when", "time", "between"]);
    expect(pathOf({ time: { between: ["09:00", "17:00"], timezone: "Europe/Atlantis" } })).toEqual([
      0,
      "when",
      "time",
      "timezone",
    ]);
    expect(pathOf({ time: { between: ["09:00", "17:00"], days: ["monday"] } })).toEqual([0, "when", "time", "days", 0]);
    expect(pathOf({ headers: { "x-env": { present: "yes" } } })).toEqual([0, "when", "headers", "x-env"]);
    expect(pathOf({ tags: { env: [] } })).toEqual([0, "when", "tags", "env"]);
    expect(pathOf({ prompt_tokens: { gt: -1 } })).toEqual([0, "when", "prompt_tokens", "gt"]);
    expect(pathOf({ models: "x" })).toEqual([0, "when"]);
  });

  it("refuses a range that is empty, unbounded or doubly bounded", () => {
    const messageOf = (range: unknown) =>
      issuesOf([{ name: "r", when: { cost_usd: range }, then: { strategy: "cost" } }])[0]?.message;
    expect(messageOf({})).toMatch(/at least one of gt, gte, lt, lte/);
    expect(messageOf({ gt: 1, gte: 2 })).toMatch(/gt or gte/);
    expect(messageOf({ gte: 5, lt: 5 })).toMatch(/lower bound is past the upper/);
    expect(
      RulesSchema.safeParse([{ name: "r", when: { cost_usd: { gte: 5, lte: 5 } }, then: { strategy: "cost" } }])
        .success,
    ).toBe(true);
  });

  it("lists every route_to that names an unknown alias", () => {
    const rules = RulesSchema.parse([
      { name: "a", then: { route_to: "cheap" } },
      { name: "b", then: { strategy: "cost" } },
      { name: "c", then: { route_to: "gpt-5" } },
    ]);
    expect(validateRuleTargets(rules, new Set(["cheap", "chat-fast"]))).toEqual([
      'rules[2].then.route_to: expected one of the model aliases (cheap, chat-fast), got "gpt-5"',
    ]);
    expect(validateRuleTargets(rules, new Set(["cheap", "gpt-5"]))).toEqual([]);
  });
});

describe("routing rules: explain", () => {
  it("reports the first failing condition of each rule up to the one that matches", () => {
    const rules = ruleSet([
      { name: "chat-only", when: { alias: "chat-*", team: "ml" }, then: { strategy: "latency" } },
      { name: "big", when: { prompt_tokens: { gt: 8000 } }, then: { route_to: "long" } },
      { name: "office", when: { time: { between: ["09:00", "17:00"] } }, then: { strategy: "quality" } },
      { name: "fallback", then: { strategy: "cost" } },
      { name: "never-reached", then: { strategy: "geo" } },
    ]);
    const result = rules.explain(
      facts({ alias: "gpt-4o", teamId: "ml", promptTokens: 120, now: at("2026-01-07T20:15:00Z") }),
    );
    expect(result.matched?.name).toBe("fallback");
    expect(result.checked).toEqual([
      { name: "chat-only", matched: false, failed: "alias 'gpt-4o' not in [chat-*]" },
      { name: "big", matched: false, failed: "prompt_tokens 120 not > 8000" },
      { name: "office", matched: false, failed: "time Wed 20:15 (UTC) outside 09:00-17:00" },
      { name: "fallback", matched: true },
    ]);
  });

  it("names missing facts and header presence in its reasons", () => {
    const rules = ruleSet([
      { name: "a", when: { team: "ml-*" }, then: { strategy: "cost" } },
      { name: "b", when: { cost_usd: { gte: 1 } }, then: { strategy: "cost" } },
      { name: "c", when: { headers: { "X-Debug": { present: true } } }, then: { strategy: "cost" } },
      { name: "d", when: { tags: { env: "prod" } }, then: { strategy: "cost" } },
      { name: "e", when: { has_tools: true }, then: { strategy: "cost" } },
    ]);
    expect(rules.explain(facts()).checked.map((c) => c.failed)).toEqual([
      "team (none) not in [ml-*]",
      "cost_usd unknown",
      "header x-debug is absent",
      "tag env (none) not in [prod]",
      "has_tools is false",
    ]);
    expect(rules.explain(facts()).matched).toBeUndefined();
  });

  it("agrees with match", () => {
    const rules = ruleSet([
      { name: "a", when: { alias: "x" }, then: { strategy: "cost" } },
      { name: "b", when: { alias: "chat-*" }, then: { route_to: "y" } },
    ]);
    expect(rules.explain(facts()).matched).toBe(rules.match(facts()));
  });
});
