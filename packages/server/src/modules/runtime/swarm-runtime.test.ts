// The Swarm runtime's reading of task states, against a scripted manager: which task stands for a replica, what the
// reconciler is told (and not told) when tasks fail, move or vanish, and the names it gives Swarm objects.
import { createFakeDockerDriver, LABELS, type SwarmDriver, type SwarmNode, type SwarmServiceInfo, type SwarmTask } from '@cynchro/docker-driver';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AppEvents } from '../../lib/app-events.js';
import type { RuntimeEvent } from './app-runtime.js';
import { repositoryOf, swarmServiceName, SwarmRuntime } from './swarm-runtime.js';

function scripted() {
  const state = {
    nodes: [
      { id: 'n1', hostname: 'm', role: 'manager', state: 'ready', availability: 'active', addr: '10.0.0.2', cpus: 2, memoryBytes: 2 ** 31, leader: true },
      { id: 'n2', hostname: 'w', role: 'worker', state: 'ready', availability: 'active', addr: '10.0.0.3', cpus: 2, memoryBytes: 2 ** 31, leader: false },
    ] as SwarmNode[],
    services: [] as SwarmServiceInfo[],
    tasks: [] as SwarmTask[],
  };
  const unused = () => {
    throw new Error('not scripted');
  };
  const swarm: SwarmDriver = {
    swarmId: async () => 'swarm',
    listNodes: async () => state.nodes,
    listServices: async (labels) => state.services.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)),
    listTasks: async (ids) => state.tasks.filter((t) => !ids.length || ids.includes(t.serviceId)),
    ensureOverlay: unused,
    listOverlays: async () => [],
    removeOverlay: unused,
    createSecret: unused,
    listSecrets: async () => [],
    removeSecret: unused,
    createService: unused,
    scaleService: unused,
    removeService: async (id) => {
      state.services = state.services.filter((s) => s.id !== id);
      state.tasks = state.tasks.filter((t) => t.serviceId !== id);
    },
    pushImage: unused,
    registryDigest: async () => null,
    taskLogs: unused,
    followTaskLogs: unused,
  };
  return { state, swarm };
}

const labels = { [LABELS.managed]: 'true', [LABELS.org]: 'org_1', [LABELS.app]: 'app_1', [LABELS.deployment]: 'dep_1', [LABELS.service]: 'web' };
const task = (id: string, slot: number, over: Partial<SwarmTask> = {}): SwarmTask => ({
  id,
  serviceId: 's1',
  nodeId: 'n2',
  slot,
  desiredState: 'running',
  state: 'running',
  message: '',
  createdAt: `2026-01-01T00:00:0${slot}Z`,
  updatedAt: `2026-01-01T00:00:0${slot}Z`,
  ...over,
});

async function runtimeWith(s: ReturnType<typeof scripted>) {
  const events = new AppEvents();
  const seen: RuntimeEvent[] = [];
  events.on('runtime', (e) => seen.push(e));
  const rt = new SwarmRuntime({ docker: createFakeDockerDriver(), swarm: s.swarm, events, log: pino({ level: 'silent' }), registry: { host: 'reg:5000' }, pollMs: 20 });
  await rt.start();
  return { rt, seen };
}

describe('SwarmRuntime', () => {
  it('names services and repositories as Swarm and registries accept them', () => {
    expect(swarmServiceName({ deploymentId: 'dep_abcdefghijklmnop' }, 'web')).toBe('cyn-abcdefghijklmnop-web');
    expect(swarmServiceName({ deploymentId: 'dep_abcdefghijklmnop' }, 'x'.repeat(80))).toHaveLength(63);
    expect(repositoryOf('reg:5000/team/web:v1')).toBe('reg:5000/team/web');
    expect(repositoryOf('reg:5000/team/web@sha256:' + 'a'.repeat(64))).toBe('reg:5000/team/web');
    expect(repositoryOf('busybox')).toBe('busybox');
  });

  it("one replica per slot: the task Swarm wants running, its node's address and port as endpoint, a replaced slot 'restarting'", async () => {
    const s = scripted();
    s.state.services = [{ id: 's1', name: 'cyn-1-web', labels: { ...labels, 'cloud.cynchro.port': '8080' }, replicas: 2, version: 1, spec: {} }];
    s.state.tasks = [
      task('t1', 1, { hostPort: 30001 }),
      // Slot 2: an old task that failed and its replacement still starting.
      task('t2-old', 2, { desiredState: 'shutdown', state: 'failed', exitCode: 1, createdAt: '2026-01-01T00:00:00Z' }),
      task('t2', 2, { state: 'starting', createdAt: '2026-01-01T00:00:05Z' }),
    ];
    const { rt } = await runtimeWith(s);
    try {
      const replicas = (await rt.replicas('app_1')).sort((a, b) => a.index - b.index);
      expect(replicas.map((r) => [r.id, r.index, r.state, r.running])).toEqual([
        ['t1', 0, 'running', true],
        ['t2', 1, 'restarting', false],
      ]);
      expect(replicas[0]!.endpoint).toEqual({ host: '10.0.0.3', port: 30001 });
    } finally {
      await rt.stop();
    }
  });

  it('routes a running task once it answers; tells of a crash as die, of a lost node as node-down, of a removed service as destroy', async () => {
    const s = scripted();
    s.state.services = [{ id: 's1', name: 'cyn-1-web', labels, replicas: 2, version: 1, spec: {} }];
    // No port: a running task is healthy at once (nothing to probe).
    s.state.tasks = [task('t1', 1, { nodeId: 'n1' }), task('t2', 2)];
    const { rt, seen } = await runtimeWith(s);
    const wait = async (what: (e: RuntimeEvent[]) => boolean) => {
      for (let i = 0; i < 200 && !what(seen); i++) await new Promise((r) => setTimeout(r, 10));
      expect(what(seen)).toBe(true);
    };
    try {
      await wait((e) => e.filter((x) => x.type === 'replica-up').length === 2);
      expect((await rt.replicas('app_1')).every((r) => r.healthy)).toBe(true);
      // t1 crashes.
      s.state.tasks[0] = task('t1', 1, { nodeId: 'n1', state: 'failed', exitCode: 3 });
      await wait((e) => e.some((x) => x.type === 'replica-down' && x.replicaId === 't1'));
      expect(seen.find((x) => x.type === 'replica-down' && x.replicaId === 't1')).toMatchObject({ action: 'die', exitCode: 3, appId: 'app_1', deploymentId: 'dep_1' });
      // The worker is lost: its task still says running, but it is no longer routed.
      s.state.nodes[1] = { ...s.state.nodes[1]!, state: 'down' };
      await wait((e) => e.some((x) => x.type === 'replica-down' && x.replicaId === 't2'));
      expect(seen.find((x) => x.type === 'replica-down' && x.replicaId === 't2')).toMatchObject({ action: 'node-down' });
      expect((await rt.replicas('app_1')).some((r) => r.healthy)).toBe(false);
      // Each down is told once.
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.filter((x) => x.type === 'replica-down')).toHaveLength(2);
      // A replacement on the manager is routed; removing the service tells nothing more of tasks already down.
      s.state.tasks.push(task('t3', 2, { nodeId: 'n1', createdAt: '2026-01-01T00:00:09Z' }));
      await wait((e) => e.some((x) => x.type === 'replica-up' && x.replicaId === 't3'));
      s.state.services = [];
      s.state.tasks = [];
      await wait((e) => e.some((x) => x.type === 'replica-down' && x.replicaId === 't3'));
      expect(seen.find((x) => x.type === 'replica-down' && x.replicaId === 't3')).toMatchObject({ action: 'destroy' });
    } finally {
      await rt.stop();
    }
  });

  it('a manager that does not answer is engine-down, and its return a resync', async () => {
    const s = scripted();
    const { rt, seen } = await runtimeWith(s);
    try {
      const real = s.swarm.listNodes;
      s.swarm.listNodes = async () => {
        throw new Error('connect ENOENT');
      };
      for (let i = 0; i < 100 && !seen.some((e) => e.type === 'engine-down'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen.some((e) => e.type === 'engine-down')).toBe(true);
      s.swarm.listNodes = real;
      for (let i = 0; i < 100 && !seen.some((e) => e.type === 'resync'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen.some((e) => e.type === 'resync')).toBe(true);
    } finally {
      await rt.stop();
    }
  });

  it('refuses a local image id and a name no registry has', async () => {
    const s = scripted();
    const { rt } = await runtimeWith(s);
    try {
      await expect(rt.ensureImage('sha256:' + 'a'.repeat(64))).rejects.toMatchObject({ code: 'invalid_ref' });
      await expect(rt.ensureImage('reg:5000/nope:v1')).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/registry/) });
      s.swarm.registryDigest = async () => 'sha256:' + 'b'.repeat(64);
      expect(await rt.ensureImage('reg:5000/web:v1')).toBe('reg:5000/web@sha256:' + 'b'.repeat(64));
    } finally {
      await rt.stop();
    }
  });
});
