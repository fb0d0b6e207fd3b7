export { type LedgerLog, type LedgerObserver, type LedgerOptions, UsageLedger } from "./ledger.js";
export {
  csvField,
  listRecords,
  queryUsage,
  toCsv,
  type UsageFilters,
  type UsageGroupBy,
  type UsageQuery,
  type UsageSummaryRow,
} from "./query.js";
export { fromRow, toRow, type UsageOutcome, type UsageRecord } from "./record.js";
export { isRowRejection, storeSink, type UsageSink } from "./sink.js";
export {
  type CacheRow,
  type CallSample,
  cacheStats,
  callSamples,
  firstRecordAt,
  recentRecords,
  type ScopeMinute,
  type SeriesBy,
  type SeriesRow,
  scopeMinutes,
  spendSeries,
} from "./stats.js";
