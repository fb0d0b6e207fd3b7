import { describe, expect, it } from "vitest";
import { mape, rollingOrigins } from "../../src/forecast/backtest.js";
import { normalCdf } from "../../src/forecast/breaches.js";
import {
  addDays,
  type DailyPoint,
  forecastDaily,
  forecastWith,
  projectBreaches,
  type SpendForecast,
} from "../../src/forecast/index.js";
import { fitHoltWinters, holtWinters, linearTrend, seasonalNaive } from "../../src/forecast/models.js";
import { mulberry32 } from "../../src/routing/strategies/index.js";

const WEEK = [120, 130, 125, 115, 100, 40, 30];

function points(values: readonly number[], first = "2026-09-01"): DailyPoint[] {
  return values.map((usd, i) => ({ day: addDays(first, i), usd }));
}

/** Seeded PRNG (mulberry32) and a normal draw, so noisy series are the same on every run. */
function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    normal: () => Math.sqrt(-2 * Math.log(Math.max(next(), 1e-12))) * Math.cos(2 * Math.PI * next()),
  };
}

const weekly = (n: number, trend = 0) => Array.from({ length: n }, (_, t) => (WEEK[t % 7] ?? 0) + trend * t);

describe("forecast models", () => {
  it("seasonal naive repeats a pure weekly pattern exactly, weekday for weekday", () => {
    const y = weekly(40);
    expect(seasonalNaive(y, 10)).toEqual(weekly(50).slice(40));
  });

  it("the linear trend extends a straight line exactly", () => {
    const y = Array.from({ length: 60 }, (_, t) => 10 + 2.5 * t);
    const f = linearTrend(y, 7);
    f.forEach((v, h) => {
      expect(v).toBeCloseTo(10 + 2.5 * (60 + h), 9);
    });
  });

  it("Holt-Winters tracks a weekly pattern on a rising trend within 2%", () => {
    const y = weekly(84, 0.8);
    const truth = weekly(98, 0.8).slice(84);
    const f = holtWinters(y, 14);
    f.forEach((v, h) => {
      expect(Math.abs(v - (truth[h] ?? 0)) / (truth[h] ?? 1)).toBeLessThan(0.02);
    });
  });

  it("Holt-Winters' grid search smooths noise harder than a clean series", () => {
    const r = rng(11);
    const noisy = weekly(84).map((v) => v * (1 + 0.3 * r.normal()));
    const clean = weekly(84, 0.5);
    expect(fitHoltWinters(noisy).alpha).toBeLessThanOrEqual(fitHoltWinters(clean).alpha);
  });

  it("rolls origins over the last days with the full horizon observed", () => {
    expect(rollingOrigins(60, { horizon: 7, maxOrigins: 3, minTrain: 14 })).toEqual([
      { origin: 51, horizon: 7 },
      { origin: 52, horizon: 7 },
      { origin: 53, horizon: 7 },
    ]);
    // Too short for a whole horizon: every origin from minTrain with what is left.
    expect(rollingOrigins(16, { horizon: 7, maxOrigins: 28, minTrain: 14 })).toEqual([
      { origin: 14, horizon: 2 },
      { origin: 15, horizon: 1 },
    ]);
  });

  it("leaves days without spend out of MAPE", () => {
    expect(mape([0, 10, 0, 20], [{ origin: 1, horizon: 3 }], [[12, 5, 20]])).toBeCloseTo(0.1, 9);
  });
});

describe("forecastDaily", () => {
  it("serves seasonal naive or Holt-Winters on a weekly series, never the straight line", () => {
    const r = rng(3);
    const y = weekly(84).map((v) => v * (1 + 0.02 * r.normal()));
    const f = forecastDaily(points(y), 7);
    expect(["seasonal_naive", "holt_winters"]).toContain(f.method);
    expect(f.backtestMape.linear).toBeGreaterThan(2 * (f.backtestMape[f.method] ?? 1));
    expect(f.insufficientData).toBe(false);
  });

  it("serves the linear trend on a steep straight line with no weekly pattern", () => {
    const y = Array.from({ length: 70 }, (_, t) => 50 + 3 * t);
    const f = forecastDaily(points(y), 7);
    expect(f.method).toBe("linear");
    expect(f.backtestMape.linear).toBeCloseTo(0, 9);
    expect(f.backtestMape.seasonal_naive).toBeGreaterThan(0.05);
    expect(f.days[0]?.usd).toBeCloseTo(50 + 3 * 70, 6);
  });

  it("labels forecast days from the day after the history", () => {
    const f = forecastDaily(points(weekly(28), "2026-02-01"), 3);
    expect(f.days.map((d) => d.day)).toEqual(["2026-03-01", "2026-03-02", "2026-03-03"]);
  });

  it("says insufficient data under 14 days and serves the last week's run rate", () => {
    const y = [5, 5, 5, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10];
    const f = forecastDaily(points(y), 5);
    expect(f).toMatchObject({ method: "run_rate", insufficientData: true, backtestMape: {} });
    for (const d of f.days) expect(d.usd).toBeCloseTo(10, 9);
    expect(forecastDaily(points([...y, 10]), 5).insufficientData).toBe(false);
  });

  it("forecasts nothing for a scope that never spent", () => {
    const f = forecastDaily(points(new Array(30).fill(0)), 7);
    expect(f.days.every((d) => d.usd === 0 && d.high === 0)).toBe(true);
  });

  it("puts the truth inside the 80% band most of the time on noisy seasonal spend", () => {
    let inside = 0;
    let weekInside = 0;
    let total = 0;
    let weeks = 0;
    for (let seed = 100; seed < 110; seed++) {
      const r = rng(seed);
      const y = Array.from({ length: 105 }, (_, t) => (WEEK[t % 7] ?? 0) * (1 + 0.003 * t) * (1 + 0.1 * r.normal()));
      for (let origin = 77; origin <= 98; origin += 3) {
        const f = forecastDaily(points(y.slice(0, origin)), 7);
        let actualSum = 0;
        f.days.forEach((d, h) => {
          const actual = y[origin + h] ?? 0;
          actualSum += actual;
          if (actual >= d.low && actual <= d.high) inside++;
          total++;
        });
        const last = f.days[6];
        if (last && actualSum >= (last.cumLow ?? 0) && actualSum <= (last.cumHigh ?? 0)) weekInside++;
        weeks++;
      }
    }
    expect(inside / total).toBeGreaterThan(0.65);
    expect(inside / total).toBeLessThan(0.95);
    expect(weekInside / weeks).toBeGreaterThan(0.6);
  });

  it("widens the band with the horizon past the week the backtest measured", () => {
    const r = rng(5);
    const y = weekly(84).map((v) => v * (1 + 0.1 * r.normal()));
    const f = forecastDaily(points(y), 28);
    const width = (i: number) => {
      const d = f.days[i];
      return d ? (d.high - d.low) / d.usd : 0;
    };
    expect(width(27)).toBeGreaterThan(width(6) * 1.5);
    const cum = f.days.map((d) => d.cumHigh ?? 0);
    expect(cum).toEqual([...cum].sort((a, b) => a - b));
  });

  it("ensemble is the mean of the three fitted models", () => {
    const y = weekly(42, 0.3);
    const parts = (["seasonal_naive", "linear", "holt_winters"] as const).map((m) => forecastWith(m, y, 3));
    const ensemble = forecastWith("ensemble", y, 3);
    ensemble.forEach((v, i) => {
      expect(v).toBeCloseTo(parts.reduce((s, p) => s + (p[i] ?? 0), 0) / 3, 9);
    });
  });
});

describe("projectBreaches", () => {
  const flat = (usd: number, n: number, spread = 0): SpendForecast => ({
    method: "linear",
    insufficientData: false,
    backtestMape: {},
    days: Array.from({ length: n }, (_, i) => ({
      day: addDays("2026-11-20", i),
      usd,
      low: usd - spread,
      high: usd + spread,
      cumUsd: usd * (i + 1),
      cumLow: (usd - spread) * (i + 1),
      cumHigh: (usd + spread) * (i + 1),
    })),
  });

  it("dates each level at the first day the running total reaches it", () => {
    // 40 spent, 10 a day: 80 on day 4 (11-23), 100 on day 6 (11-25), 200 never within 10 days.
    const breaches = projectBreaches(40, flat(10, 10, 2), [
      { level: "soft", limitUsd: 80 },
      { level: "hard", limitUsd: 100 },
      { level: "hard", limitUsd: 200 },
    ]);
    expect(breaches.map((b) => [b.level, b.limitUsd, b.date])).toEqual([
      ["soft", 80, "2026-11-23"],
      ["hard", 100, "2026-11-25"],
      ["hard", 200, null],
    ]);
    // Forecast total 140: 100 is well inside, 200 well beyond the band (120..160).
    expect(breaches[1]?.probability).toBeGreaterThan(0.99);
    expect(breaches[2]?.probability).toBeLessThan(0.01);
  });

  it("reads a limit at the band's high edge as a 10% chance", () => {
    const [b] = projectBreaches(0, flat(10, 10, 2), [{ level: "hard", limitUsd: 120 }]);
    expect(b?.date).toBeNull();
    expect(b?.probability).toBeCloseTo(0.1, 3);
  });

  it("dates a limit already reached to the first forecast day", () => {
    const [b] = projectBreaches(150, flat(10, 3), [{ level: "hard", limitUsd: 100 }]);
    expect(b).toEqual({ level: "hard", limitUsd: 100, date: "2026-11-20", probability: 1 });
  });

  it("sums daily bands when a forecast carries no running totals", () => {
    const f = flat(10, 5, 1);
    for (const d of f.days) {
      delete d.cumUsd;
      delete d.cumLow;
      delete d.cumHigh;
    }
    expect(projectBreaches(0, f, [{ level: "soft", limitUsd: 30 }])[0]?.date).toBe("2026-11-22");
  });

  it("computes the normal CDF", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.2815515655446004)).toBeCloseTo(0.9, 6);
    expect(normalCdf(-1.96)).toBeCloseTo(0.025, 4);
  });
});
