/** Samples kept per deployment and kind for the percentiles: recent enough to mean "now", enough for a p95. */
const WINDOW = 512;

class Ring {
  private readonly values = new Float64Array(WINDOW);
  private size = 0;
  private next = 0;

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % WINDOW;
    if (this.size < WINDOW) this.size++;
  }

  percentile(p: number): number | undefined {
    if (this.size === 0) return undefined;
    const sorted = this.values.slice(0, this.size).sort();
    return sorted[Math.min(this.size - 1, Math.floor((p / 100) * this.size))];
  }
}

interface Stats {
  latency: Ring;
  ttft: Ring;
  attempts: number;
  failures: number;
  costed: number;
  costUsd: number;
}

export interface PerformanceRow {
  p50Ms?: number;
  p95Ms?: number;
  ttftP50Ms?: number;
  ttftP95Ms?: number;
  attempts: number;
  errorRate: number;
  avgCostUsd?: number;
}

/**
 * Per-deployment latency percentiles (JSON answers: whole call; streams: time to the first event), error rate
 * and average cost per request, over this replica's recent attempts, for GET /api/models/performance.
 * Recording is a few array writes; percentiles are computed only when asked.
 */
export class DeploymentPerformance {
  private readonly byId = new Map<string, Stats>();

  attempt(id: string, ok: boolean, latencyMs: number, stream: boolean): void {
    const s = this.stats(id);
    s.attempts++;
    if (!ok) s.failures++;
    else (stream ? s.ttft : s.latency).push(latencyMs);
  }

  cost(id: string, usd: number): void {
    const s = this.stats(id);
    s.costed++;
    s.costUsd += usd;
  }

  row(id: string): PerformanceRow {
    const s = this.byId.get(id);
    if (s === undefined) return { attempts: 0, errorRate: 0 };
    const row: PerformanceRow = { attempts: s.attempts, errorRate: s.attempts ? s.failures / s.attempts : 0 };
    const set = (key: keyof PerformanceRow, v: number | undefined) => {
      if (v !== undefined) (row as unknown as Record<string, number>)[key] = Math.round(v * 100) / 100;
    };
    set("p50Ms", s.latency.percentile(50));
    set("p95Ms", s.latency.percentile(95));
    set("ttftP50Ms", s.ttft.percentile(50));
    set("ttftP95Ms", s.ttft.percentile(95));
    if (s.costed > 0) row.avgCostUsd = s.costUsd / s.costed;
    return row;
  }

  private stats(id: string): Stats {
    let s = this.byId.get(id);
    if (s === undefined) {
      s = { latency: new Ring(), ttft: new Ring(), attempts: 0, failures: 0, costed: 0, costUsd: 0 };
      this.byId.set(id, s);
    }
    return s;
  }
}
