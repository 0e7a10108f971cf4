import { describe, expect, it } from 'vitest';
import { cpuCounters, CpuBaselines, cpuPercent, MAX_BASELINE_AGE_MS, memoryUsage, MIN_BASELINE_AGE_MS } from './container-stats.js';

// Figures of the engine's own example document (API reference, GET /containers/{id}/stats), cgroup v1, 4 CPUs.
const cpu = { cpu_usage: { percpu_usage: [8646879, 24472255, 36438778, 30657443], total_usage: 100215355 }, system_cpu_usage: 739306590000000, online_cpus: 4 };
const precpu = { cpu_usage: { percpu_usage: [8646879, 24350896, 36438778, 30657443], total_usage: 100093996 }, system_cpu_usage: 9492140000000, online_cpus: 4 };

describe('cpuPercent, as docker stats computes it', () => {
  it('is Δ container time / Δ host time × online CPUs × 100', () => {
    const pre = { total: 1_000_000_000, system: 100_000_000_000, onlineCpus: 2 };
    // Half a second of CPU while the host's two CPUs ran 2 s in all (1 s of wall time): half a core.
    expect(cpuPercent(pre, { total: 1_500_000_000, system: 102_000_000_000, onlineCpus: 2 })).toBeCloseTo(50, 10);
    expect(cpuPercent(cpuCounters(precpu), cpuCounters(cpu))).toBeCloseTo(((100215355 - 100093996) / (739306590000000 - 9492140000000)) * 4 * 100, 12);
  });

  it('counts online CPUs from percpu_usage for older daemons', () => {
    expect(cpuCounters({ ...cpu, online_cpus: undefined } as never).onlineCpus).toBe(4);
    expect(cpuCounters(undefined)).toEqual({ total: 0, system: 0, onlineCpus: 0 });
  });

  it('is 0 without a usable interval: a blank previous reading (one-shot), no host time passing, counters going back', () => {
    const cur = { total: 5e9, system: 2e12, onlineCpus: 2 };
    expect(cpuPercent(cpuCounters({ cpu_usage: { total_usage: 0 } }), cur)).toBe(0);
    expect(cpuPercent(cur, cur)).toBe(0);
    expect(cpuPercent({ ...cur, total: 6e9, system: 1e12 }, cur)).toBe(0);
  });
});

describe('memoryUsage, as docker stats computes it', () => {
  it('subtracts total_inactive_file on cgroup v1 and inactive_file on cgroup v2', () => {
    expect(memoryUsage({ usage: 10_000_000, stats: { total_inactive_file: 3_000_000, cache: 4_000_000, inactive_file: 1_000_000 } })).toBe(7_000_000);
    expect(memoryUsage({ usage: 10_000_000, stats: { inactive_file: 2_500_000, anon: 7_000_000 } })).toBe(7_500_000);
  });

  it('answers the raw usage when the cache figure is missing or not smaller', () => {
    expect(memoryUsage({ usage: 10_000_000, stats: {} })).toBe(10_000_000);
    expect(memoryUsage({ usage: 10_000_000, stats: { total_inactive_file: 12_000_000 } })).toBe(10_000_000);
    expect(memoryUsage(undefined)).toBe(0);
  });
});

describe('CpuBaselines: the previous readings that stand in for precpu_stats', () => {
  const at0 = Date.parse('2026-01-01T00:00:00Z');
  const reading = (total: number, system: number) => ({ total, system, onlineCpus: 2 });

  it('offers the newest reading between MIN_BASELINE_AGE_MS (0.9 s) and 30 s old', () => {
    const b = new CpuBaselines();
    expect(b.usable('c1', reading(10, 100), at0)).toBeUndefined();
    b.add('c1', reading(10, 100), at0);
    b.add('c1', reading(20, 200), at0 + 1_500);
    // 1.8 s after the first, 0.3 s after the second: only the first is old enough.
    expect(MIN_BASELINE_AGE_MS).toBeGreaterThan(300);
    expect(b.usable('c1', reading(25, 250), at0 + 1_800)).toMatchObject({ total: 10, at: at0 });
    b.add('c1', reading(25, 250), at0 + 1_800);
    expect(b.usable('c1', reading(40, 400), at0 + 3_000)).toMatchObject({ total: 25, at: at0 + 1_800 });
    expect(b.usable('c2', reading(40, 400), at0 + 3_000)).toBeUndefined();
  });

  it('offers none younger than MIN_BASELINE_AGE_MS or older than MAX_BASELINE_AGE_MS, and forgets expired ones', () => {
    const b = new CpuBaselines();
    b.add('c1', reading(10, 100), at0);
    expect(b.usable('c1', reading(11, 110), at0 + MIN_BASELINE_AGE_MS - 1)).toBeUndefined();
    expect(b.usable('c1', reading(11, 110), at0 + MIN_BASELINE_AGE_MS)).toBeDefined();
    expect(b.usable('c1', reading(11, 110), at0 + MAX_BASELINE_AGE_MS + 1)).toBeUndefined();
    expect(b.size).toBe(0);
  });

  it('drops a container whose counters went back (it restarted in a new cgroup)', () => {
    const b = new CpuBaselines();
    b.add('c1', reading(5_000, 100), at0);
    expect(b.usable('c1', reading(20, 300), at0 + 2_000)).toBeUndefined();
    expect(b.size).toBe(0);
  });

  it('keeps a bounded number of readings of a container read many times a second', () => {
    const b = new CpuBaselines();
    for (let i = 0; i < 500; i++) b.add('c1', reading(i, i * 10), at0 + i * 10);
    // 5 s of reads every 10 ms: one in ten is kept, and of the older ones only the newest old enough.
    expect(b.count('c1')).toBeLessThanOrEqual(Math.ceil(MIN_BASELINE_AGE_MS / 100) + 2);
    const offered = b.usable('c1', reading(600, 6_000), at0 + 5_000)?.at ?? 0;
    expect(5_000 - (offered - at0)).toBeGreaterThanOrEqual(MIN_BASELINE_AGE_MS);
    expect(5_000 - (offered - at0)).toBeLessThanOrEqual(MIN_BASELINE_AGE_MS + 100);
    b.delete('c1');
    expect(b.size).toBe(0);
  });
});
