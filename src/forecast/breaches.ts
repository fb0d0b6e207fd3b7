import { Z80 } from "./forecast.js";
import type { BreachProjection, BudgetLevelLimit, ForecastDay, SpendForecast } from "./types.js";

/**
 * When each limit is reached: the first forecast day whose running total (spent + forecast so far) reaches it;
 * a limit already reached dates to the first forecast day. `probability` reads the running total's band at the
 * last day as a split normal (the 80% band's edges at ±1.28 sd), so it is 0.1 at the band's high edge.
 */
export function projectBreaches(
  spentToDateUsd: number,
  forecast: SpendForecast,
  levels: readonly BudgetLevelLimit[],
): BreachProjection[] {
  const running = cumulative(forecast.days);
  const last = running[running.length - 1];
  return levels.map(({ level, limitUsd }) => {
    if (spentToDateUsd >= limitUsd) {
      return { level, limitUsd, date: forecast.days[0]?.day ?? null, probability: 1 };
    }
    const hit = running.findIndex((c) => spentToDateUsd + c.usd >= limitUsd);
    const date = hit < 0 ? null : (forecast.days[hit]?.day ?? null);
    const probability = last ? chanceAtLeast(limitUsd - spentToDateUsd, last) : 0;
    return { level, limitUsd, date, probability };
  });
}

interface Running {
  usd: number;
  low: number;
  high: number;
}

/** The days' running totals, from the forecast's cumulative band, or summed daily bands when it has none. */
function cumulative(days: readonly ForecastDay[]): Running[] {
  const out: Running[] = [];
  let usd = 0;
  let low = 0;
  let high = 0;
  for (const d of days) {
    usd += d.usd;
    low += d.low;
    high += d.high;
    out.push({ usd: d.cumUsd ?? usd, low: d.cumLow ?? low, high: d.cumHigh ?? high });
  }
  return out;
}

function chanceAtLeast(amount: number, r: Running): number {
  const sd = (amount >= r.usd ? r.high - r.usd : r.usd - r.low) / Z80;
  if (!(sd > 0)) return r.usd >= amount ? 1 : 0;
  return 1 - normalCdf((amount - r.usd) / sd);
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
