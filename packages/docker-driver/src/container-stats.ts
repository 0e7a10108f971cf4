// Resource usage of a running container, computed as `docker stats` computes it (docker/cli
// cli/command/container/stats_helpers.go: calculateCPUPercentUnix, calculateMemUsageUnixNoCache).
//
// The engine samples each container it is asked about once a second (its stats collector) and answers one sample
// without streaming in two ways (API ≥ 1.41, dockerd 20.10):
// - `stream=false&one-shot=true`: the next sample (within a second), but `precpu_stats` is blank, so no CPU share
//   can be derived from that sample alone;
// - `stream=false`: what `docker stats --no-stream` asks for (the CLI sets one-shot only when it does NOT want the
//   previous sample): the engine skips the first sample to "prime" the second (1–2 s) and fills `precpu_stats`.
// So the driver reads one-shot and keeps each container's previous readings as its own `precpu`: the CPU share is that
// of the interval since an earlier read (one sample to 30 s before, CpuBaselines). A container without such a reading (read for the
// first time, not for 30 s, only within the last second, or restarted since) gets the engine's primed read instead.
import type Dockerode from 'dockerode';
import type { ContainerStats } from './types.js';

/** A previous reading older than this is not used as `precpu`: the share would be averaged over too long. */
export const MAX_BASELINE_AGE_MS = 30_000;
/** Nor one younger than this: the engine samples about once a second, and one sample back is what it uses itself. */
export const MIN_BASELINE_AGE_MS = 900;

/** The CPU counters of one reading (nanoseconds). */
export interface CpuCounters {
  /** The container's CPU time (`cpu_usage.total_usage`). */
  total: number;
  /** The host's CPU time, all CPUs together (`system_cpu_usage`); 0 when the engine left it out. */
  system: number;
  /** `online_cpus`, or the length of `percpu_usage` for older daemons; 0 when neither is known. */
  onlineCpus: number;
}

/** The part of the engine's stats document used here (`GET /containers/{id}/stats`). */
export interface EngineStatsDoc {
  read?: string;
  cpu_stats?: EngineCpuStats;
  precpu_stats?: EngineCpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

interface EngineCpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export function cpuCounters(s: EngineCpuStats | undefined): CpuCounters {
  return {
    total: s?.cpu_usage?.total_usage ?? 0,
    system: s?.system_cpu_usage ?? 0,
    onlineCpus: s?.online_cpus || s?.cpu_usage?.percpu_usage?.length || 0,
  };
}

/**
 * The CLI's calculateCPUPercentUnix: (Δ container CPU time / Δ host CPU time) × online CPUs × 100, so one busy core
 * is 100 and the ceiling is the number of CPUs × 100 (or the container's cpu limit × 100). 0 without a usable
 * interval (a blank previous reading counts as none: it would average over the host's uptime).
 */
export function cpuPercent(pre: CpuCounters, cur: CpuCounters): number {
  if (pre.system <= 0) return 0;
  const cpuDelta = cur.total - pre.total;
  const systemDelta = cur.system - pre.system;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cur.onlineCpus * 100 : 0;
}

/**
 * The CLI's calculateMemUsageUnixNoCache: usage minus the inactive page cache, which the kernel reclaims first
 * (`total_inactive_file` on cgroup v1, `inactive_file` on cgroup v2), as cadvisor and containerd count it.
 */
export function memoryUsage(mem: EngineStatsDoc['memory_stats']): number {
  const usage = mem?.usage ?? 0;
  const v1 = mem?.stats?.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = mem?.stats?.inactive_file ?? 0;
  if (v2 < usage) return usage - v2;
  return usage;
}

/** A not-running container's stats: the engine answers zero times and no memory figures. */
function sampled(doc: EngineStatsDoc): boolean {
  return !!doc.read && !doc.read.startsWith('0001-01-01') && doc.memory_stats?.usage !== undefined;
}

interface Reading extends CpuCounters {
  /** The engine's read time (ms since the epoch). */
  at: number;
}

/** A reading this close to the previous one kept is not kept too: a second holds about ten readings of a container. */
const MIN_SPACING_MS = 100;

/**
 * The previous readings of each container, the `precpu` of its next one-shot read: the newest one at least
 * MIN_BASELINE_AGE_MS old (shorter intervals are noise: the host's CPU time moves in 10 ms ticks per CPU) and at most
 * MAX_BASELINE_AGE_MS old.
 */
export class CpuBaselines {
  private readonly readings = new Map<string, Reading[]>();

  /** A reading of `id` fit to serve as `precpu` for `cur` (read at `at`), if there is one. */
  usable(id: string, cur: CpuCounters, at: number): Reading | undefined {
    this.expire(at);
    const list = this.readings.get(id) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (at - r.at < MIN_BASELINE_AGE_MS) continue;
      if (cur.system > r.system && cur.total >= r.total) return r;
      // Counters went back: the container restarted (a new cgroup) since; its old readings are of no use.
      this.readings.delete(id);
      return undefined;
    }
    return undefined;
  }

  /** Records a reading; of the older ones only those the next reads may still use are kept. */
  add(id: string, cur: CpuCounters, at: number): void {
    const list = (this.readings.get(id) ?? []).filter((r) => r.at < at);
    const last = list.at(-1);
    if (last && at - last.at < MIN_SPACING_MS) return;
    let from = 0;
    for (let i = list.length - 1; i >= 0; i--) {
      if (at - list[i]!.at >= MIN_BASELINE_AGE_MS) {
        from = i;
        break;
      }
    }
    this.readings.set(id, [...list.slice(from), { ...cur, at }]);
  }

  delete(id: string): void {
    this.readings.delete(id);
  }

  /** Containers with a reading kept. */
  get size(): number {
    return this.readings.size;
  }

  /** Readings kept of one container. */
  count(id: string): number {
    return this.readings.get(id)?.length ?? 0;
  }

  private expire(now: number): void {
    for (const [id, list] of this.readings) {
      const fresh = list.filter((r) => now - r.at <= MAX_BASELINE_AGE_MS);
      if (!fresh.length) this.readings.delete(id);
      else if (fresh.length !== list.length) this.readings.set(id, fresh);
    }
  }
}

function toStats(doc: EngineStatsDoc, cpu: number): ContainerStats {
  return {
    cpuPercent: cpu,
    memoryBytes: memoryUsage(doc.memory_stats),
    memoryLimitBytes: doc.memory_stats?.limit ?? 0,
    readAt: new Date(Date.parse(doc.read ?? '')).toISOString(),
  };
}

type Call = <T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>) => Promise<T>;

/** One reading of a running container; null when it is not running. See the top of this file. */
export async function readContainerStats(docker: Dockerode, id: string, call: Call, baselines: CpuBaselines): Promise<ContainerStats | null> {
  const read = (oneShot: boolean) =>
    call(`stats of container ${id}`, (abortSignal) =>
      docker.getContainer(id).stats({ stream: false, ...(oneShot ? { 'one-shot': true } : {}), abortSignal } as { stream: false }),
    ) as Promise<EngineStatsDoc>;
  const doc = await read(true);
  if (!sampled(doc)) {
    baselines.delete(id);
    return null;
  }
  const cur = cpuCounters(doc.cpu_stats);
  const at = Date.parse(doc.read ?? '');
  const base = baselines.usable(id, cur, at);
  if (base) {
    baselines.add(id, cur, at);
    return toStats(doc, cpuPercent(base, cur));
  }
  // No usable previous reading: the engine's own, primed with the sample of its previous cycle. This one-shot reading
  // is kept too, for the reads to come.
  baselines.add(id, cur, at);
  const primed = await read(false);
  if (!sampled(primed)) {
    baselines.delete(id);
    return null;
  }
  const now = cpuCounters(primed.cpu_stats);
  baselines.add(id, now, Date.parse(primed.read ?? ''));
  return toStats(primed, cpuPercent(cpuCounters(primed.precpu_stats), now));
}
