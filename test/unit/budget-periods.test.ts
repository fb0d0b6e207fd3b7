import { describe, expect, it } from "vitest";
import { BudgetsConfigSchema } from "../../src/budget/definition.js";
import { periodBucket, zonedMidnight } from "../../src/budget/periods.js";
import { BudgetIndex } from "../../src/budget/scopes.js";

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function bucket(period: "daily" | "weekly" | "monthly" | "total", zone: string, at: string) {
  const b = periodBucket(period, zone, Date.parse(at));
  return { label: b.label, start: iso(b.startMs), end: iso(b.endMs) };
}

describe("budget periods", () => {
  it("aligns a daily bucket to local midnight in America/New_York", () => {
    expect(bucket("daily", "America/New_York", "2026-11-25T04:59:59Z")).toEqual({
      label: "2026-11-24",
      start: "2026-11-24T05:00:00.000Z",
      end: "2026-11-25T05:00:00.000Z",
    });
    expect(bucket("daily", "America/New_York", "2026-11-25T05:00:00Z").label).toBe("2026-11-25");
  });

  it("keeps days 23 and 25 hours long across DST changes", () => {
    expect(bucket("daily", "America/New_York", "2026-03-08T12:00:00Z")).toMatchObject({
      start: "2026-03-08T05:00:00.000Z",
      end: "2026-03-09T04:00:00.000Z",
    });
    expect(bucket("daily", "America/New_York", "2026-11-01T12:00:00Z")).toMatchObject({
      start: "2026-11-01T04:00:00.000Z",
      end: "2026-11-02T05:00:00.000Z",
    });
  });

  it("starts weeks on Monday (ISO) and months on the 1st, local time", () => {
    // Sunday 2026-11-29 23:30 in Berlin is still the week of Monday the 23rd.
    expect(bucket("weekly", "Europe/Berlin", "2026-11-29T22:30:00Z")).toEqual({
      label: "2026-11-23",
      start: "2026-11-22T23:00:00.000Z",
      end: "2026-11-29T23:00:00.000Z",
    });
    expect(bucket("weekly", "Europe/Berlin", "2026-11-29T23:00:00Z").label).toBe("2026-11-30");
    expect(bucket("monthly", "Asia/Kolkata", "2026-12-31T19:00:00Z")).toEqual({
      label: "2027-01",
      start: "2026-12-31T18:30:00.000Z",
      end: "2027-01-31T18:30:00.000Z",
    });
    expect(bucket("monthly", "UTC", "2026-12-15T00:00:00Z").end).toBe("2027-01-01T00:00:00.000Z");
  });

  it("never resets a total budget", () => {
    expect(bucket("total", "UTC", "2026-11-25T00:00:00Z")).toEqual({ label: "total", start: iso(0), end: undefined });
  });

  it("finds local midnight from a wall-clock date that overflows the month", () => {
    expect(iso(zonedMidnight(2026, 12, 32, "Asia/Tokyo"))).toBe("2026-12-31T15:00:00.000Z");
  });
});

describe("budget scope matching", () => {
  const { definitions } = BudgetsConfigSchema.parse({
    definitions: [
      { scope: "org", id: "acme", limit_usd: 100 },
      { scope: "team", id: "blue", alias: "chat", limit_usd: 10 },
      { scope: "team", id: "blue", provider: "anthropic", limit_usd: 5 },
      { scope: "key", id: "k1", limit_tokens: 1000 },
      { scope: "team", id: "red", limit_usd: 1 },
    ],
  });
  const index = new BudgetIndex(definitions);

  it("applies every definition whose id matches and whose alias and provider, when set, match", () => {
    const labels = (alias: string, provider: string) =>
      index.match({ orgId: "acme", teamId: "blue", keyId: "k1", alias, provider }).map((b) => b.label);
    expect(labels("chat", "openai")).toEqual(["org acme", "team blue, alias chat", "key k1"]);
    expect(labels("embed", "anthropic")).toEqual(["org acme", "team blue, provider anthropic", "key k1"]);
    expect(index.match({ teamId: "green", alias: "chat", provider: "openai" })).toEqual([]);
  });

  it("names counters by scope", () => {
    expect(index.all.map((b) => b.scopeKey)).toEqual([
      "org:acme",
      "team:blue:alias=chat",
      "team:blue:provider=anthropic",
      "key:k1",
      "team:red",
    ]);
  });
});
