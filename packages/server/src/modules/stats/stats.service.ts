// GET /apps/{id}/stats: the resource usage of the running replicas of an app's current release, read from the
// runtime (the engine's stats API) and kept per app for at most STATS_CACHE_MS, so callers polling at once (a few
// dashboards, a CLI in a loop) cost the engine one reading per app every two seconds.
import { DockerError } from '@cynchro/docker-driver';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors/app-error.js';
import type { AppSpec } from '../apps/app-spec.js';
import type { AppsService } from '../apps/apps.service.js';
import type { AppsTable } from '../apps/apps.tables.js';
import type { AuthContext } from '../auth/auth.service.js';
import type { DeploymentsService } from '../deployments/deployments.service.js';
import type { AppRuntime, ReplicaStats } from '../runtime/app-runtime.js';
import type { AppStatsDto, ReplicaStatsDto } from './stats.schema.js';

/** How long one reading of an app is answered again (measured on Deps.clock, from when it was asked for). */
export const STATS_CACHE_MS = 2_000;

export interface StatsServiceDeps {
  deps: Pick<Deps, 'clock'>;
  apps: Pick<AppsService, 'require'>;
  deployments: Pick<DeploymentsService, 'repo'>;
  runtime: Pick<AppRuntime, 'stats'>;
}

interface CachedReading {
  /** The release it is of (null: the app is stopped): a switch or a stop is seen at once, not 2 s later. */
  deploymentId: string | null;
  at: number;
  reading: Promise<AppStatsDto>;
}

export class StatsService {
  /** App id → its latest reading, while fresh; a reading under way is shared by the calls that come meanwhile. */
  private readonly cache = new Map<string, CachedReading>();

  constructor(private readonly s: StatsServiceDeps) {}

  /** 404 `app_not_found` for an app of another org; 503 `unavailable` when the engine cannot be read. */
  async app(auth: Pick<AuthContext, 'orgId'>, appId: string): Promise<AppStatsDto> {
    const app = await this.s.apps.require(auth, appId);
    const deploymentId = app.desired_state === 'stopped' ? null : app.current_deployment_id;
    const now = this.s.deps.clock.now().getTime();
    for (const [id, c] of this.cache) if (now - c.at >= STATS_CACHE_MS || now < c.at) this.cache.delete(id);
    const hit = this.cache.get(app.id);
    if (hit && hit.deploymentId === deploymentId) return hit.reading;
    const reading = this.read(app, deploymentId);
    this.cache.set(app.id, { deploymentId, at: now, reading });
    // A failure is not kept: the next call asks the engine again.
    reading.catch(() => {
      if (this.cache.get(app.id)?.reading === reading) this.cache.delete(app.id);
    });
    return reading;
  }

  private async read(app: AppsTable, deploymentId: string | null): Promise<AppStatsDto> {
    const names = await this.serviceNames(app);
    let replicas: ReplicaStats[] = [];
    if (deploymentId) {
      try {
        replicas = await this.s.runtime.stats(app.id, deploymentId);
      } catch (err) {
        if (err instanceof DockerError || (err instanceof Error && err.name === 'AbortError'))
          throw new AppError('unavailable', `The Docker engine could not be read for the app's stats: ${err.message}`, { cause: err });
        throw err;
      }
    }
    for (const r of replicas) if (!names.includes(r.service)) names.push(r.service);
    return { services: names.map((name) => ({ name, replicas: replicas.filter((r) => r.service === name).map(toDto) })) };
  }

  /** The services of the current release (of the app's spec when it has none yet), in their declared order. */
  private async serviceNames(app: AppsTable): Promise<string[]> {
    const release = app.current_deployment_id ? await this.s.deployments.repo.byId(app.current_deployment_id) : undefined;
    return (JSON.parse(release?.spec ?? app.spec) as AppSpec).services.map((s) => s.name);
  }
}

function toDto(r: ReplicaStats): ReplicaStatsDto {
  return {
    containerId: r.replicaId,
    // Two decimals, as `docker stats` shows it.
    cpuPercent: Math.round(r.cpuPercent * 100) / 100,
    memoryBytes: Math.round(r.memoryBytes),
    memoryLimitBytes: Math.round(r.memoryLimitBytes),
    restarts: r.restarts,
    startedAt: r.startedAt,
  };
}
