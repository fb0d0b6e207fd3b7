/** One day's spend; a series is oldest first and contiguous (a day without spend is 0, not missing). */
export interface DailyPoint {
  /** "YYYY-MM-DD". */
  day: string;
  usd: number;
}

export type ForecastMethod = "seasonal_naive" | "linear" | "holt_winters" | "ensemble" | "run_rate";

export interface ForecastDay {
  day: string;
  usd: number;
  /** ~80% band for this day alone. */
  low: number;
  high: number;
  /** Spend from the first forecast day through this one, and its ~80% band (not the sum of daily bands). */
  cumUsd?: number;
  cumLow?: number;
  cumHigh?: number;
}

export interface SpendForecast {
  /** The served method. */
  method: ForecastMethod;
  /** True under 14 days of history: served by run rate. */
  insufficientData: boolean;
  /** One per horizon day, starting the day after the last history day. */
  days: ForecastDay[];
  /** Rolling backtest MAPE (a fraction, 0.08 = 8%) per method evaluated. */
  backtestMape: Partial<Record<ForecastMethod, number>>;
}

export interface BudgetLevelLimit {
  level: string;
  limitUsd: number;
}

export interface BreachProjection {
  level: string;
  limitUsd: number;
  /** First forecast day on which cumulative spend reaches the limit; null if not within the forecast. */
  date: string | null;
  /** Chance that spend reaches the limit by the last forecast day, from the forecast's band. */
  probability?: number;
}
