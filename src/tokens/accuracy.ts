/** (estimated - actual) / actual: positive when we over-estimated. 0 when both are 0; ±1 when only actual is 0. */
export function relativeError(estimated: number, actual: number): number {
  if (actual === 0) return estimated === 0 ? 0 : Math.sign(estimated);
  return (estimated - actual) / actual;
}

export type AccuracyMetric = "prompt_tokens" | "cost";

/** Receives every recorded error, e.g. to put it in a prom-client histogram (this module does not import it). */
export type AccuracyObserver = (sample: { model: string; metric: AccuracyMetric; relativeError: number }) => void;

export interface AccuracySummary {
  count: number;
  meanAbsError: number;
  p50AbsError: number;
  p90AbsError: number;
  /** Mean signed error: > 0 means estimates run high (budgets over-reserve). */
  bias: number;
}

class ErrorWindow {
  private readonly values: Float64Array;
  private total = 0;
  private filled = 0;
  private next = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.values.length;
    if (this.filled < this.values.length) this.filled++;
    this.total++;
  }

  summary(): AccuracySummary {
    const recent = this.values.slice(0, this.filled);
    const abs = recent.map(Math.abs).sort();
    const sum = (values: Float64Array) => values.reduce((acc, v) => acc + v, 0);
    const at = (q: number) => abs[Math.min(abs.length - 1, Math.max(0, Math.ceil(q * abs.length) - 1))] ?? 0;
    const n = Math.max(1, this.filled);
    return {
      count: this.total,
      meanAbsError: sum(abs) / n,
      p50AbsError: at(0.5),
      p90AbsError: at(0.9),
      bias: sum(recent) / n,
    };
  }
}

/**
 * Relative errors of estimated vs actual prompt tokens and cost, per model. Summaries cover the most recent
 * `window` samples per (model, metric); `count` is every sample seen.
 */
export class AccuracyTracker {
  private readonly windows = new Map<string, Map<AccuracyMetric, ErrorWindow>>();

  constructor(
    private readonly observer?: AccuracyObserver,
    private readonly window = 1000,
  ) {}

  record(model: string, metric: AccuracyMetric, estimated: number, actual: number): number {
    const error = relativeError(estimated, actual);
    let metrics = this.windows.get(model);
    if (!metrics) {
      metrics = new Map();
      this.windows.set(model, metrics);
    }
    let errors = metrics.get(metric);
    if (!errors) {
      errors = new ErrorWindow(this.window);
      metrics.set(metric, errors);
    }
    errors.push(error);
    this.observer?.({ model, metric, relativeError: error });
    return error;
  }

  summary(): Record<string, Partial<Record<AccuracyMetric, AccuracySummary>>> {
    const result: Record<string, Partial<Record<AccuracyMetric, AccuracySummary>>> = {};
    for (const [model, metrics] of this.windows) {
      const entry: Partial<Record<AccuracyMetric, AccuracySummary>> = {};
      for (const [metric, errors] of metrics) entry[metric] = errors.summary();
      result[model] = entry;
    }
    return result;
  }
}
