import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestDurations } from './request-durations.js';

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const help = 'API requests';

describe('RequestDurations', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const d = new RequestDurations({ name: 'x_seconds', help, buckets, registers: [ours] });
    const h = new Histogram({ name: 'x_seconds', help, buckets, labelNames: ['method', 'route', 'status_code'], registers: [theirs] });
    // Values on bucket bounds, between them, below the first and past the last; several series.
    const obs: [string, string, number, number][] = [
      ['GET', '/auth/me', 200, 0.0004], ['GET', '/auth/me', 200, 0.001], ['GET', '/auth/me', 200, 0.0011],
      ['GET', '/auth/me', 200, 2.5], ['GET', '/auth/me', 200, 42], ['POST', '/deploy', 202, 0.03],
      ['GET', 'unmatched', 404, 0.002], ['GET', '/apps/:id', 404, 0.25], ['POST', '/deploy', 202, 0.07],
    ];
    for (const [method, route, status, s] of obs) {
      d.observe(method, route, status, s);
      h.observe({ method, route, status_code: status }, s);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // The JSON form too, but for prom-client's `exemplar: null` on each value (exemplars are off).
    const strip = (ms: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
      ms.map((m) => ({ ...m, values: m.values.map((v) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'exemplar'))) }));
    expect(strip(await ours.getMetricsAsJSON())).toEqual(strip(await theirs.getMetricsAsJSON()));
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="+Inf",method="GET",route="/auth/me",status_code="200"} 5');
  });

  it('ignores a value that is not a finite number, and reset empties it', async () => {
    const r = new Registry();
    const d = new RequestDurations({ name: 'y_seconds', help, buckets, registers: [r] });
    d.observe('GET', '/healthz', 200, Number.NaN);
    expect(await r.metrics()).not.toContain('y_seconds_count');
    d.observe('GET', '/healthz', 200, 0.01);
    expect(await r.metrics()).toContain('y_seconds_count{method="GET",route="/healthz",status_code="200"} 1');
    d.reset();
    expect(await r.metrics()).not.toContain('y_seconds_count');
  });
});
