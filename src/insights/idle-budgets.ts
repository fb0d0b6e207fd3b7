import {
  type BudgetUse,
  type Recommendation,
  type RecommendationInput,
  type RecommendationOptions,
  round6,
} from "./types.js";

/**
 * Budgets whose busiest whole period in the window used less than `idleBelow` of the limit (and whose running
 * period, when the budget service could say, is under it too). They save nothing: what they report is the limit
 * left unused per month, which could be handed to a team that needs it.
 */
export function idleBudgets(
  input: RecommendationInput,
  opts: RecommendationOptions,
  monthDays: number,
): Recommendation[] {
  const out: Recommendation[] = [];
  const windowDays = Math.max(1, input.windowDays);
  for (const b of input.budgets) {
    if (b.period === "total" || (b.limitUsd === undefined && b.limitTokens === undefined)) continue;
    const periodDays = b.period === "daily" ? 1 : b.period === "weekly" ? 7 : monthDays;
    if (windowDays < Math.min(periodDays, 7)) continue; // too little history to call it idle
    const spentUsd = sum(b.dailyUsd);
    const spentTokens = sum(b.dailyTokens);
    const periodsInWindow = windowDays / periodDays;
    const meanUsd = spentUsd / periodsInWindow;
    const meanTokens = spentTokens / periodsInWindow;
    const mean = usedFraction(b, meanUsd, meanTokens);
    const { peak, periods } = peakUse(b, periodDays, windowDays, mean);
    if (peak >= opts.idleBelow || (b.currentPeriodUtilization ?? 0) >= opts.idleBelow) continue;
    const perMonth = monthDays / periodDays;
    const idleUsd = b.limitUsd === undefined ? null : round6(Math.max(0, b.limitUsd - meanUsd) * perMonth);
    const idleTokens =
      b.limitTokens === undefined ? null : Math.round(Math.max(0, b.limitTokens - meanTokens) * perMonth);
    const idle = idleUsd !== null ? `$${idleUsd.toFixed(2)}` : `${idleTokens} tokens`;
    const limit = b.limitUsd !== undefined ? `$${b.limitUsd}` : `${b.limitTokens} tokens`;
    out.push({
      id: ["idle_budget", ...(input.teamId === undefined ? [] : [input.teamId]), b.label].join(":"),
      kind: "idle_budget",
      title: `Budget ${b.label} (${b.period} ${limit}) peaked at ${Math.round(peak * 100)}% of its limit over ${Math.round(windowDays)} days: ${idle} a month unused`,
      scope: b.scope,
      estimatedMonthlySavingUsd: 0,
      evidence: {
        windowDays: round6(windowDays),
        monthlyFactor: round6(monthDays / windowDays),
        budget: b.label,
        period: b.period,
        limitUsd: b.limitUsd ?? null,
        limitTokens: b.limitTokens ?? null,
        periodsObserved: round6(periods),
        spentUsd: round6(spentUsd),
        spentTokens,
        meanUtilization: round6(mean),
        peakUtilization: round6(peak),
        idleBelow: opts.idleBelow,
        idleUsdPerMonth: idleUsd,
        idleTokensPerMonth: idleTokens,
        currentPeriodUtilization: b.currentPeriodUtilization ?? null,
      },
    });
  }
  return out;
}

/**
 * The busiest whole period (days or weeks counted back from today) as a fraction of the limit. A monthly budget
 * has no whole period in a 30-day window: its mean, extrapolated to the month, stands for it.
 */
function peakUse(
  b: BudgetUse,
  periodDays: number,
  windowDays: number,
  mean: number,
): { peak: number; periods: number } {
  const days = b.dailyUsd.length;
  const whole = Number.isInteger(periodDays) ? Math.floor(Math.min(days, Math.ceil(windowDays)) / periodDays) : 0;
  if (whole < 1) return { peak: mean, periods: windowDays / periodDays };
  let peak = 0;
  for (let k = 0; k < whole; k++) {
    const end = days - k * periodDays;
    const start = end - periodDays;
    peak = Math.max(peak, usedFraction(b, sum(b.dailyUsd.slice(start, end)), sum(b.dailyTokens.slice(start, end))));
  }
  return { peak, periods: whole };
}

function usedFraction(b: BudgetUse, usd: number, tokens: number): number {
  const byUsd = b.limitUsd === undefined ? 0 : usd / b.limitUsd;
  const byTokens = b.limitTokens === undefined ? 0 : tokens / b.limitTokens;
  return Math.max(byUsd, byTokens);
}

function sum(xs: readonly number[]): number {
  let total = 0;
  for (const x of xs) total += x;
  return total;
}
