// GET /admin/nodes: the runtime's machines as operators see them (one engine, or each member of a Swarm cluster),
// in a stable order so a table reads the same from one call to the next.
import { DockerError } from '@cynchro/docker-driver';
import { AppError } from '../../errors/app-error.js';
import type { AppRuntime } from '../runtime/app-runtime.js';
import type { NodesListDto } from './admin.schema.js';

export interface NodesServiceDeps {
  runtime: Pick<AppRuntime, 'nodes'>;
}

export class NodesService {
  constructor(private readonly s: NodesServiceDeps) {}

  /** 503 `unavailable` when the engine (or the cluster's manager) cannot be read. */
  async list(): Promise<NodesListDto> {
    let nodes;
    try {
      nodes = await this.s.runtime.nodes();
    } catch (err) {
      if (err instanceof DockerError || (err instanceof Error && err.name === 'AbortError'))
        throw new AppError('unavailable', `The runtime's nodes could not be read: ${err.message}`, { cause: err });
      throw err;
    }
    const rank = (role: string) => (role === 'manager' ? 0 : 1);
    const sorted = [...nodes].sort((a, b) => rank(a.role) - rank(b.role) || a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id));
    return { nodes: sorted.map(({ id, hostname, role, state, availability, cpus, memoryMb, apps }) => ({ id, hostname, role, state, availability, cpus, memoryMb, apps })) };
  }
}
