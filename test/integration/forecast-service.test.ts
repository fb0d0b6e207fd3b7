import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetStore } from "../../src/admin/budget-store.js";
import { type BudgetDefinition, BudgetSchema } from "../../src/budget/definition.js";
import { zonedMidnight } from "../../src/budget/periods.js";
import { ForecastService, type ScopeProjection } from "../../src/forecast/index.js";
import type { Store } from "../../src/store/index.js";
import { storeSink, type UsageRecord } from "../../src/usage/index.js";
import { BACKENDS, type Backend, makeBackend, usageRecord } from "./harness.js";

const TZ = "America/New_York";
/** Wednesday 2026-11-25, noon in New York (EST, UTC-5): half of the local day gone. */
const NOW = Date.parse("2026-11-25T17:00:00Z");
const HOUR = 3_600_000;

/** An instant `hours` after local midnight of y-m-d in New York. */
const local = (y: number, m: number, d: number, hours: number) => zonedMidnight(y, m, d, TZ) + hours * HOUR;

/**
 * team-a (key-a, alias fast) spends every local day from Sept 1 to Nov 24: $50 on Mondays, $10 otherwise, all at
 * 22:00 local, which is the next day in UTC, so a UTC-day series would put Monday's spend on Tuesday. $4 this
 * morning. key-b (team-b, alias slow) spends $3 a day at noon, Nov 20 to 24 only.
 */
function seededRecords(): UsageRecord[] {
  const records: UsageRecord[] = [];
  for (let d = new Date(Date.UTC(2026, 8, 1)); d < new Date(Date.UTC(2026, 10, 25)); d.setUTCDate(d.getUTCDate() + 1)) {
    const usd = d.getUTCDay() === 1 ? 50 : 10;
    records.push(
      usageRecord({
        ts: local(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), 22),
        actualCostUsd: usd,
      }),
    );
  }
  records.push(usageRecord({ ts: local(2026, 11, 25, 8), actualCostUsd: 4 }));
  for (let day = 20; day <= 24; day++) {
    records.push(
      usageRecord({
        ts: local(2026, 11, day, 12),
        keyId: "key-b",
        teamId: "team-b",
        alias: "slow",
        actualCostUsd: 3,
      }),
    );
  }
  return records;
}

const declared: BudgetDefinition[] = [
  { scope: "team", id: "team-a", period: "monthly", limit_usd: 450, level: "soft" },
  { scope: "team", id: "team-a", period: "monthly", limit_usd: 600, level: "hard" },
  { scope: "team", id: "team-a", period: "total", limit_usd: 100_000 },
  { scope: "org", id: "org-a", period: "daily", limit_usd: 20 },
  { scope: "org", id: "org-a", alias: "slow", period: "monthly", limit_usd: 1000 },
].map((b) => BudgetSchema.parse(b));

describe.each(BACKENDS)("spend forecasts on %s", (backendName) => {
  let backend: Backend;
  let store: Store;
  let service: ForecastService;

  beforeAll(async () => {
    backend = await makeBackend(backendName);
    store = backend.open();
    await store.migrate();
    await storeSink(store).insert(seededRecords());
    await store.db
      .insertInto("teams")
      .values({ id: "team-a", org_id: "org-a", name: "A", source: "api", created_at: 0 })
      .execute();
    await store.db
      .insertInto("keys")
      .values({
        id: "key-b",
        name: "B",
        team_id: "team-b",
        org_id: "org-a",
        key_hash: "h-b",
        hint: "tg-b***",
        allowed_aliases: "[]",
        priority: "normal",
        tags: "{}",
        enabled: 1,
        source: "api",
        created_at: 0,
        updated_at: 0,
      })
      .execute();
    // One budget made through the admin API, read with the declared ones as app.ts does.
    const budgetStore = new BudgetStore(store);
    await budgetStore.create(BudgetSchema.parse({ scope: "key", id: "key-b", period: "monthly", limit_usd: 1000 }));
    service = new ForecastService(
      store,
      async () => [...declared, ...(await budgetStore.list()).map((b) => b.definition)],
      { timeZone: TZ, now: () => NOW },
    );
  });

  afterAll(async () => {
    await store?.close();
    await backend?.cleanup();
  });

  const find = (all: ScopeProjection[], scope: string, period: string) => {
    const p = all.find((s) => s.scope === scope && s.period === period);
    if (!p) throw new Error(`no projection for ${scope} ${period}`);
    return p;
  };

  it("projects a weekly pattern to the month's end by local day, with each level's breach date", async () => {
    const p = find(await service.scopes(NOW), "team team-a", "monthly");
    expect(p).toMatchObject({
      kind: "team",
      id: "team-a",
      teamId: "team-a",
      orgId: "org-a",
      periodStart: "2026-11-01T04:00:00.000Z",
      periodEnd: "2026-12-01T05:00:00.000Z",
      insufficientData: false,
      historyDays: 85,
    });
    // Nov 1-24: four Mondays at $50, twenty days at $10, plus $4 today.
    expect(p.spentToDateUsd).toBeCloseTo(404, 6);
    expect(p.method).toBe("seasonal_naive");
    expect(p.days.map((d) => [d.day, Number(d.usd.toFixed(6))])).toEqual([
      ["2026-11-25", 5], // half of Wednesday's $10 is still to come
      ["2026-11-26", 10],
      ["2026-11-27", 10],
      ["2026-11-28", 10],
      ["2026-11-29", 10],
      ["2026-11-30", 50], // Monday
    ]);
    expect(p.forecastPeriodEndUsd).toBeCloseTo(499, 6);
    expect(p.low).toBeLessThanOrEqual(p.forecastPeriodEndUsd + 1e-9);
    expect(p.high).toBeGreaterThanOrEqual(p.forecastPeriodEndUsd - 1e-9);
    expect(p.breaches.map((b) => [b.level, b.limitUsd, b.date])).toEqual([
      ["soft", 450, "2026-11-30"],
      ["hard", 600, null],
    ]);
    expect(p.backtestMape.seasonal_naive).toBeCloseTo(0, 9);
    expect(p.backtestMape.linear).toBeGreaterThan(0.1);
  });

  it("counts an alias-scoped budget's alias only, and serves a run rate under 14 days of history", async () => {
    const all = await service.scopes(NOW);
    const slow = find(all, "org org-a, alias slow", "monthly");
    expect(slow.spentToDateUsd).toBeCloseTo(15, 6);
    expect(slow).toMatchObject({ insufficientData: true, method: "run_rate", historyDays: 5 });
    const key = find(all, "key key-b", "monthly");
    expect(key).toMatchObject({ insufficientData: true, method: "run_rate", teamId: "team-b", orgId: "org-a" });
    // $3 a day: half of today plus five more days.
    expect(key.forecastPeriodEndUsd).toBeCloseTo(15 + 1.5 + 5 * 3, 6);
    expect(key.breaches).toEqual([expect.objectContaining({ level: "hard", limitUsd: 1000, date: null })]);
  });

  it("aligns daily and total periods to the budgets' time zone", async () => {
    const all = await service.scopes(NOW);
    const daily = find(all, "org org-a", "daily");
    // Last night's 22:00 spend (03:00 UTC today) belongs to yesterday locally: only this morning's $4 counts.
    expect(daily.spentToDateUsd).toBeCloseTo(4, 6);
    expect(daily).toMatchObject({
      periodStart: "2026-11-25T05:00:00.000Z",
      periodEnd: "2026-11-26T05:00:00.000Z",
      horizonEnd: "2026-11-26T05:00:00.000Z",
    });
    expect(daily.days).toHaveLength(1);
    const total = find(all, "team team-a", "total");
    const allTime = seededRecords()
      .filter((r) => r.teamId === "team-a")
      .reduce((sum, r) => sum + (r.actualCostUsd ?? 0), 0);
    expect(total.spentToDateUsd).toBeCloseTo(allTime, 6);
    expect(total).toMatchObject({ periodStart: null, periodEnd: null, horizonEnd: "2026-12-25T05:00:00.000Z" });
    expect(total.days).toHaveLength(30);
  });

  it("filters by team and by org", async () => {
    const teamA = await service.scopes(NOW, { teamId: "team-a" });
    expect(new Set(teamA.map((p) => p.scope))).toEqual(new Set(["team team-a"]));
    const teamB = await service.scopes(NOW, { teamId: "team-b" });
    expect(teamB.map((p) => p.scope)).toEqual(["key key-b"]);
    const orgA = await service.scopes(NOW, { orgId: "org-a" });
    // Every budget here is under org-a: its own two, team-a's two periods and key-b's.
    expect(orgA).toHaveLength(5);
  });

  it("serves from cache within the TTL and refits on refresh()", async () => {
    const before = find(await service.scopes(NOW), "org org-a", "daily").spentToDateUsd;
    await storeSink(store).insert([usageRecord({ ts: NOW - HOUR, actualCostUsd: 6 })]);
    expect(find(await service.scopes(NOW + 1000), "org org-a", "daily").spentToDateUsd).toBeCloseTo(before, 6);
    await service.refresh(NOW + 1000);
    expect(find(await service.scopes(NOW + 2000), "org org-a", "daily").spentToDateUsd).toBeCloseTo(before + 6, 6);
  });
});
