// What the runtime reports when replicas go down, from the engine's events (fake engine: the same event sequences
// as dockerd, per the driver's contract suite).
import { createFakeDockerDriver, FAKE_ENGINE_HOST, LABELS } from '@cynchro/docker-driver';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AppEvents } from '../../lib/app-events.js';
import type { RuntimeEvent } from './app-runtime.js';
import { DockerRuntime } from './docker-runtime.js';

const runtimes: DockerRuntime[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.stop();
});

async function setup() {
  const docker = createFakeDockerDriver();
  docker.addImage('acme/web:1');
  const events = new AppEvents();
  const seen: RuntimeEvent[] = [];
  events.on('runtime', (e) => seen.push(e));
  const runtime = new DockerRuntime({ docker, events, log: pino({ level: 'silent' }), reconnectMinMs: 5 });
  runtimes.push(runtime);
  await runtime.start();
  const release = { appId: 'app_1', orgId: 'org_1', deploymentId: 'dep_1', services: [{ name: 'web', image: 'acme/web:1', env: {}, secretFiles: {}, port: 80, cpu: 0.25, memoryMb: 64, volumes: [], replicas: 1, dependsOn: [] }] };
  await runtime.startRelease(release, { signal: new AbortController().signal, log: async () => {}, startMs: 5000, healthMs: 5000 });
  const [c] = await docker.listContainers({ [LABELS.app]: 'app_1' });
  const downs = () => seen.filter((e): e is Extract<RuntimeEvent, { type: 'replica-down' }> => e.type === 'replica-down');
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 400 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(what()).toBe(true);
  };
  return { docker, runtime, id: c!.id, downs, until };
}

describe('DockerRuntime replica-down reports', () => {
  it('a crash is a death (`die`, with its exit code); a kill is not (`killed`), so operators never make a crash loop', async () => {
    const t = await setup();
    t.docker.crashLoop(t.id, 3);
    await t.until(() => t.downs().some((e) => e.action === 'die'));
    expect(t.downs().find((e) => e.action === 'die')).toMatchObject({ replicaId: t.id, exitCode: 3, appId: 'app_1', deploymentId: 'dep_1' });
    t.docker.recover(t.id);
  });

  it('docker kill, docker restart and docker rm -f are reported as killed (or destroyed), never as die', async () => {
    const t = await setup();
    t.docker.kill(t.id);
    await t.until(() => t.downs().length >= 1);
    await t.docker.startContainer(t.id);
    t.docker.restartExternally(t.id);
    t.docker.removeExternally(t.id);
    await t.until(() => t.downs().some((e) => e.action === 'destroy'));
    expect(t.downs().map((e) => e.action)).not.toContain('die');
    expect(t.downs().some((e) => e.action === 'killed')).toBe(true);
  });
});

describe('DockerRuntime stats', () => {
  it('reads the running replicas of the release asked for; a stopped one has no reading; restarts count what the engine does not', async () => {
    const t = await setup();
    t.docker.setStats(t.id, { cpuPercent: 33, memoryBytes: 5_000_000 });
    expect(await t.runtime.stats('app_1', 'dep_1')).toEqual([
      { replicaId: t.id, service: 'web', index: 0, cpuPercent: 33, memoryBytes: 5_000_000, memoryLimitBytes: 64 * 1024 * 1024, restarts: 0, startedAt: (await t.docker.inspectContainer(t.id))!.startedAt },
    ]);
    expect(await t.runtime.stats('app_1', 'dep_other')).toEqual([]);
    expect(await t.runtime.stats('app_other')).toEqual([]);
    await t.docker.stopContainer(t.id);
    expect(await t.runtime.stats('app_1')).toEqual([]);
    // Started again by hand (as the reconciler does): the engine's count stays 0, the runtime saw a death and a start.
    await t.docker.startContainer(t.id);
    await t.until(() => t.downs().length > 0);
    let restarts = 0;
    for (let i = 0; i < 400 && restarts === 0; i++) {
      restarts = (await t.runtime.stats('app_1'))[0]?.restarts ?? 0;
      if (!restarts) await new Promise((r) => setTimeout(r, 5));
    }
    expect(restarts).toBe(1);
    expect((await t.docker.inspectContainer(t.id))?.restartCount).toBe(0);
  });
});

describe('DockerRuntime prepare', () => {
  const release = (deploymentId: string) => ({ appId: 'app_p', orgId: 'org_1', deploymentId, services: [{ name: 'web', image: 'acme/web:1', env: {}, secretFiles: {}, port: 80, cpu: 0.25, memoryMb: 64, volumes: [], replicas: 1, dependsOn: [] }] });
  const opts = { signal: new AbortController().signal, log: async () => {}, startMs: 5000, healthMs: 5000 };

  it("makes the app's network ahead; the release starts on it without asking the engine again", async () => {
    const docker = createFakeDockerDriver();
    docker.addImage('acme/web:1');
    const runtime = new DockerRuntime({ docker, events: new AppEvents(), log: pino({ level: 'silent' }) });
    await runtime.prepare({ appId: 'app_p', orgId: 'org_1' });
    const [net] = await docker.listNetworks({ [LABELS.app]: 'app_p' });
    expect(net).toBeDefined();
    await runtime.startRelease(release('dep_1'), opts);
    expect(docker.calls.filter((c) => c.method === 'ensureNetwork')).toHaveLength(1);
    const [c] = await docker.listContainers({ [LABELS.app]: 'app_p' });
    expect(docker.calls.find((x) => x.method === 'runContainer')?.args[0]).toMatchObject({ network: net!.id });
    expect(c?.running).toBe(true);
    // Not prepared: the next start makes sure of the network itself.
    await runtime.startRelease(release('dep_2'), opts);
    expect(docker.calls.filter((c) => c.method === 'ensureNetwork')).toHaveLength(2);
  });

  it('a prepare that failed is tried again by the start, which fails only if that fails too', async () => {
    const docker = createFakeDockerDriver();
    docker.addImage('acme/web:1');
    const runtime = new DockerRuntime({ docker, events: new AppEvents(), log: pino({ level: 'silent' }) });
    docker.engineDown();
    await expect(runtime.prepare({ appId: 'app_p', orgId: 'org_1' })).rejects.toMatchObject({ code: 'engine' });
    docker.engineUp();
    await runtime.startRelease(release('dep_1'), opts);
    expect((await docker.listContainers({ [LABELS.app]: 'app_p' }))[0]?.running).toBe(true);
    expect(await docker.listNetworks({ [LABELS.app]: 'app_p' })).toHaveLength(1);
  });
});

describe('DockerRuntime nodes', () => {
  const release = (appId: string, replicas = 1) => ({ appId, orgId: 'org_1', deploymentId: `dep_${appId}`, services: [{ name: 'web', image: 'acme/web:1', env: {}, secretFiles: {}, port: 80, cpu: 0.25, memoryMb: 64, volumes: [], replicas, dependsOn: [] }] });
  const opts = { signal: new AbortController().signal, log: async () => {}, startMs: 5000, healthMs: 5000 };

  it('is one node, the engine itself, counting the apps with a running replica (each once)', async () => {
    const docker = createFakeDockerDriver();
    docker.addImage('acme/web:1');
    const runtime = new DockerRuntime({ docker, events: new AppEvents(), log: pino({ level: 'silent' }) });
    const engine = await docker.engineInfo();
    const node = { id: engine.id, hostname: FAKE_ENGINE_HOST.name, role: 'manager', state: 'ready', availability: 'active', cpus: FAKE_ENGINE_HOST.cpus, memoryMb: 8192 };
    expect(await runtime.nodes()).toEqual([{ ...node, apps: 0 }]);
    await runtime.startRelease(release('app_a', 2), opts);
    await runtime.startRelease(release('app_b'), opts);
    // Not the platform's (another value of the managed label, as the driver's tests use): not counted.
    await docker.runContainer({ name: 'other', image: 'acme/web:1', labels: { [LABELS.managed]: 'driver-test', [LABELS.app]: 'app_x' } });
    expect(await runtime.nodes()).toEqual([{ ...node, apps: 2 }]);
    await runtime.stopApp('app_a');
    expect(await runtime.nodes()).toEqual([{ ...node, apps: 1 }]);
    docker.engineDown();
    await expect(runtime.nodes()).rejects.toMatchObject({ code: 'engine' });
  });
});
