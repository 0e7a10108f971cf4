// The API's request-duration histogram, kept by hand instead of by prom-client's Histogram: this one is observed on
// every request, and prom-client's observe validates the label names and hashes the label object each time (about
// 8% of the throughput of GET /auth/me, pnpm bench:api with BENCH_PIN=1). Here a request costs one map lookup by a
// string key and one bucket increment. The exposition is prom-client's, line for line (request-durations.test.ts),
// and it registers in the same Registry as the other metrics.
import type { MetricValueWithName, Registry } from 'prom-client';

type Label = 'method' | 'route' | 'status_code';

interface Series {
  labels: Record<Label, string | number>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export interface RequestDurationsOptions {
  name: string;
  help: string;
  buckets: number[];
  registers: Registry[];
}

export class RequestDurations {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly buckets: number[];
  private readonly series = new Map<string, Series>();

  constructor(opts: RequestDurationsOptions) {
    this.name = opts.name;
    this.help = opts.help;
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  observe(method: string, route: string, statusCode: number, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    const key = `${method} ${statusCode} ${route}`;
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { method, route, status_code: statusCode }, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** What prom-client's Registry reads at scrape time (the shape of its Histogram's get()). */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; values: MetricValueWithName<string>[]; aggregator: 'sum' }> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: i < this.buckets.length ? this.buckets[i]! : '+Inf', ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}
