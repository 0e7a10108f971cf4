import { DockerError } from '@cynchro/docker-driver';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors/app-error.js';
import type { RuntimeNode } from '../runtime/app-runtime.js';
import { NodesService } from './nodes.service.js';

const node = (id: string, hostname: string, role: RuntimeNode['role']): RuntimeNode => ({ id, hostname, role, state: 'ready', availability: 'active', cpus: 2, memoryMb: 1024, apps: 1 });

describe('NodesService', () => {
  it('answers managers first, then by hostname, with the contract fields only', async () => {
    const extra = { ...node('w1', 'b', 'worker'), engineVersion: '20.10' };
    const service = new NodesService({ runtime: { nodes: async () => [extra, node('w2', 'a', 'worker'), node('m2', 'z', 'manager'), node('m1', 'c', 'manager')] } });
    const { nodes } = await service.list();
    expect(nodes.map((n) => n.id)).toEqual(['m1', 'm2', 'w2', 'w1']);
    expect(nodes[3]).toEqual(node('w1', 'b', 'worker'));
  });

  it('makes an engine it cannot read 503 unavailable, and leaves other failures alone', async () => {
    const down = new NodesService({ runtime: { nodes: () => Promise.reject(new DockerError('engine', 'connect ENOENT /var/run/docker.sock')) } });
    const err = await down.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'unavailable', message: expect.stringContaining('ENOENT') });
    const bug = new TypeError('a bug');
    await expect(new NodesService({ runtime: { nodes: () => Promise.reject(bug) } }).list()).rejects.toBe(bug);
  });
});
