import type { Metric, Registry } from "prom-client";

interface Sample {
  metricName: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** One labelled series: counts per bucket (not cumulative), sum and count. */
interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export interface HistogramSeries {
  observe(value: number): void;
}

/**
 * A Prometheus histogram whose series are bound once and then observed with a bucket search and three adds.
 * A prom-client child validates and hashes its labels into a string on every observe(): ~1.3 µs against
 * ~0.09 µs here (measured, four labels), and the GenAI series are observed several times a request.
 * The exposition is the same as prom-client's.
 */
export class BoundHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    // The registry reads only name, help, type, aggregator, get() and reset(); prom-client's Metric type wants
    // more than that.
    registry.registerMetric(this as unknown as Metric);
  }

  /** A series for these labels; bind once per label set and keep it (each call makes a new series). */
  bind(labels: Readonly<Record<string, string>>): HistogramSeries {
    const bounds = this.bounds;
    const series: Series = { labels, buckets: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
    this.series.push(series);
    return {
      observe(value: number) {
        let i = 0;
        while (i < bounds.length && value > (bounds[i] as number)) i++;
        (series.buckets[i] as number)++;
        series.sum += value;
        series.count++;
      },
    };
  }

  get(): { name: string; help: string; type: "histogram"; aggregator: "sum"; values: Sample[] } {
    const values: Sample[] = [];
    for (const s of this.series) {
      if (s.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.buckets[i] as number;
        const le = i < this.bounds.length ? String(this.bounds[i]) : "+Inf";
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
