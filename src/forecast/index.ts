// Spend forecasts. Three simple models (seasonal naive by weekday, least-squares line over four weeks, additive
// Holt-Winters with a weekly season fitted by grid search on one-step SSE) are backtested on each series, 7 days
// ahead from its last 28 days; the lowest MAPE is served, or the models' mean when that does best. Under 14 days
// of history there is nothing to backtest: the last week's run rate, flagged insufficientData. Accuracy is
// measured by `npm run eval:forecast`, not assumed.
export { projectBreaches } from "./breaches.js";
export {
  addDays,
  BACKTEST_HORIZON,
  BACKTEST_ORIGINS,
  type ForecastOptions,
  forecastDaily,
  forecastWith,
  MIN_HISTORY_DAYS,
  runRateForecast,
} from "./forecast.js";
export {
  type BudgetDefinitionsSource,
  ForecastService,
  type ForecastServiceOptions,
  type ScopeFilter,
  type ScopeProjection,
} from "./service.js";
export type {
  BreachProjection,
  BudgetLevelLimit,
  DailyPoint,
  ForecastDay,
  ForecastMethod,
  SpendForecast,
} from "./types.js";
