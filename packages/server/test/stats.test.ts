// CONTRACT.md "Metrics and stats": GET /apps/{id}/stats on the fake engine, whose readings the test sets
// (setStats): the shape per service and replica, one reading per app for 2 s on the harness clock, restarts the
// engine counts and those it does not, a stopped app, who may read it, and engine trouble.
import { createFakeDockerDriver, FAKE_DEFAULT_USAGE, LABELS, type ContainerInfo, type FakeDockerDriver } from '@cynchro/docker-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTRA_LABELS } from '../src/modules/runtime/names.js';
import { STATS_CACHE_MS } from '../src/modules/stats/stats.service.js';
import { startHarness, type Harness } from './harness.js';
import { teams, type Team } from './teams-helpers.js';
import { ADMIN_ENV, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle, until } from './wait.js';

const MB = 1024 * 1024;
let h: Harness;
let docker: FakeDockerDriver;
const t = teams(() => h);
const { call } = t;
let team: Team;
let owner: TestUser;
let n = 0;
const appName = (tag: string) => `st-${tag}-${++n}-${process.pid % 1000}`;

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100' }, { docker });
  expect((await t.unseal(await t.operator(), newMasterKey())).status).toBe(200);
  team = await t.team();
  owner = team.members.owner;
});
afterAll(async () => {
  await h.close();
});

const stats = (appId: string, token = owner.accessToken) => call('GET', `/apps/${appId}/stats`, { token });
/** A reading newer than any kept: the harness clock moves past the cache's lifetime first. */
const freshStats = (appId: string, token = owner.accessToken) => {
  h.clock.advance(STATS_CACHE_MS);
  return stats(appId, token);
};
const engineReads = () => docker.calls.filter((c) => c.method === 'containerStats').length;

async function deploy(body: Record<string, unknown>): Promise<string> {
  const r = await call('POST', '/deploy', { token: owner.accessToken, body });
  expect(r.status, r.raw).toBe(202);
  const d = await settle(call, r.body.appId, r.body.deploymentId, owner.accessToken);
  expect(d.deployment.status, d.raw).toBe('succeeded');
  return r.body.appId as string;
}

async function containersOf(appId: string): Promise<ContainerInfo[]> {
  const list = await docker.listContainers({ [LABELS.app]: appId });
  return Promise.all(list.map(async (c) => (await docker.inspectContainer(c.id))!));
}

describe('GET /apps/{id}/stats', () => {
  let multi: string;

  it('answers every service of the current release with its running replicas, by index, as the engine reads them', async () => {
    multi = await deploy({
      name: appName('multi'),
      services: [
        { name: 'web', image: 'acme/web:1', port: 8080, replicas: 2, cpu: 0.5, memory: 128 },
        { name: 'worker', image: 'acme/worker:1', memory: 64 },
      ],
    });
    const containers = await containersOf(multi);
    expect(containers).toHaveLength(3);
    const of = (service: string, index: number) => containers.find((c) => c.labels[LABELS.service] === service && c.labels[EXTRA_LABELS.replica] === String(index))!;
    docker.setStats(of('web', 0).id, { cpuPercent: 12.345, memoryBytes: 10 * MB });
    docker.setStats(of('web', 1).id, { cpuPercent: 40, memoryBytes: 20 * MB });
    docker.setStats(of('worker', 0).id, { cpuPercent: 0.004 });

    const r = await freshStats(multi);
    expect(r.status, r.raw).toBe(200);
    const replica = (service: string, index: number, usage: { cpuPercent: number; memoryBytes: number }, memoryMb: number) => ({
      containerId: of(service, index).id,
      ...usage,
      memoryLimitBytes: memoryMb * MB,
      restarts: 0,
      startedAt: of(service, index).startedAt,
    });
    expect(r.body).toEqual({
      services: [
        { name: 'web', replicas: [replica('web', 0, { cpuPercent: 12.35, memoryBytes: 10 * MB }, 128), replica('web', 1, { cpuPercent: 40, memoryBytes: 20 * MB }, 128)] },
        { name: 'worker', replicas: [replica('worker', 0, { cpuPercent: 0, memoryBytes: FAKE_DEFAULT_USAGE.memoryBytes }, 64)] },
      ],
    });
    for (const s of r.body.services) for (const x of s.replicas) expect(Date.now() - Date.parse(x.startedAt)).toBeLessThan(60_000);
  });

  it('reads the engine once per app for 2 s on the clock, shared by the calls meanwhile; a new reading after', async () => {
    const appId = await deploy({ name: appName('cache'), image: 'acme/web:1', port: 8080 });
    const [c] = await containersOf(appId);
    docker.setStats(c!.id, { cpuPercent: 20 });
    h.clock.freeze();
    try {
      const first = await freshStats(appId);
      expect(first.body.services[0].replicas[0].cpuPercent).toBe(20);
      const reads = engineReads();

      docker.setStats(c!.id, { cpuPercent: 80 });
      const again = await Promise.all([stats(appId), stats(appId), stats(appId)]);
      for (const r of again) expect(r.body).toEqual(first.body);
      h.clock.advance(STATS_CACHE_MS - 1);
      expect((await stats(appId)).body).toEqual(first.body);
      expect(engineReads()).toBe(reads);
      // Other apps are read on their own.
      expect((await stats(multi)).status).toBe(200);
      expect(engineReads()).toBe(reads + 3);

      h.clock.advance(1);
      const later = await stats(appId);
      expect(later.body.services[0].replicas[0].cpuPercent).toBe(80);
      expect(engineReads()).toBe(reads + 4);
    } finally {
      h.clock.thaw();
    }
  });

  it('counts restarts: the restart policy\'s (a crash) and those the engine does not count (a kill the reconciler undid)', async () => {
    const appId = await deploy({ name: appName('restarts'), image: 'acme/web:1', port: 8080 });
    const [c] = await containersOf(appId);
    docker.crash(c!.id);
    expect((await docker.inspectContainer(c!.id))?.restartCount).toBe(1);
    await until('the crash counted', async () => (await freshStats(appId)).body.services[0].replicas[0]?.restarts === 1);

    // `docker kill`: the restart policy leaves it down; the reconciler starts it again, which resets the engine's count.
    docker.kill(c!.id);
    const back = await until('the killed replica started again', async () => {
      const r = (await freshStats(appId)).body.services[0].replicas[0];
      return r?.restarts === 2 ? r : undefined;
    });
    const now = await docker.inspectContainer(c!.id);
    expect(now).toMatchObject({ running: true, restartCount: 0 });
    expect(back).toMatchObject({ containerId: c!.id, startedAt: now!.startedAt });
    expect(Date.parse(back.startedAt)).toBeGreaterThan(Date.parse(c!.startedAt!));
  });

  it('a stopped app answers its services with no replicas, without asking the engine', async () => {
    const appId = await deploy({ name: appName('stopped'), image: 'acme/web:1', port: 8080 });
    expect((await freshStats(appId)).body.services[0].replicas).toHaveLength(1);
    const stop = await call('POST', `/apps/${appId}/stop`, { token: owner.accessToken });
    expect(stop.status, stop.raw).toBe(200);
    const reads = engineReads();
    // No waiting for the cache: the stop changed what there is to read.
    expect(await stats(appId)).toMatchObject({ status: 200, body: { services: [{ name: 'app', replicas: [] }] } });
    expect(engineReads()).toBe(reads);
  });

  it('is for readers of the app: viewers and its read tokens; another app\'s token 403, another org 404, nobody 401', async () => {
    expect((await stats(multi, team.members.viewer.accessToken)).status).toBe(200);
    const own = await t.apiToken(owner, { name: 'stats-own', scopes: ['read'], appId: multi });
    expect((await stats(multi, own.secret)).status).toBe(200);
    const other = await deploy({ name: appName('other'), image: 'acme/web:1', port: 8080 });
    const scoped = await t.apiToken(owner, { name: 'stats-other', scopes: ['read'], appId: other });
    expect(await stats(multi, scoped.secret)).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(await stats(multi, team.outsider.accessToken)).toMatchObject({ status: 404, body: { error: 'app_not_found' } });
    expect(await stats('app_doesnotexist')).toMatchObject({ status: 404, body: { error: 'app_not_found' } });
    expect(await call('GET', `/apps/${multi}/stats`)).toMatchObject({ status: 401, body: { error: 'missing_bearer_token' } });
  });

  it('answers 503 unavailable while the engine cannot be read, and reads again once it can', async () => {
    docker.engineDown();
    try {
      const r = await freshStats(multi);
      expect(r.status, r.raw).toBe(503);
      expect(r.body).toMatchObject({ error: 'unavailable', message: expect.stringContaining('Docker engine') });
    } finally {
      docker.engineUp();
    }
    await until('stats again', async () => {
      const r = await freshStats(multi);
      return r.status === 200 && r.body.services[0].replicas.length === 2;
    });
  });
});
