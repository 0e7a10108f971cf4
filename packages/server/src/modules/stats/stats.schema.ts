// GET /apps/{id}/stats (CONTRACT.md "Metrics and stats"): one reading per running replica of the current release.
import { z } from 'zod';

export const ReplicaStats = z
  .object({
    containerId: z.string(),
    cpuPercent: z.number().min(0).meta({ description: 'As `docker stats`: one busy core is 100, so the ceiling is the service\'s `cpu` × 100' }),
    memoryBytes: z.number().int().min(0).meta({ description: 'As `docker stats`: usage without the reclaimable page cache' }),
    memoryLimitBytes: z.number().int().min(0).meta({ description: "The service's `memory` limit, in bytes" }),
    restarts: z.number().int().min(0).meta({ description: 'How often this replica came back after going down (a crash, a kill)' }),
    startedAt: z.string().meta({ description: 'ISO 8601: the start of its current run' }),
  })
  .meta({ id: 'ReplicaStats' });

export const ServiceStats = z
  .object({ name: z.string(), replicas: z.array(ReplicaStats).meta({ description: 'Its running replicas, by index; none while the app is stopped' }) })
  .meta({ id: 'ServiceStats' });

export const AppStats = z.object({ services: z.array(ServiceStats) }).meta({ id: 'AppStats' });

export type AppStatsDto = z.infer<typeof AppStats>;
export type ReplicaStatsDto = z.infer<typeof ReplicaStats>;
