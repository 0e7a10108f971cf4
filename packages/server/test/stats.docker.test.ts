// GET /apps/{id}/stats against the real Docker engine: a running busybox app (built FROM scratch) reports what the
// engine's stats API reads for its container, its memory limit is the app's `memory`, and a `docker kill` the
// reconciler undoes counts as a restart (the engine's own RestartCount does not count it).
import { cleanUpEngine } from './engine-cleanup.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, killContainer } from '@cynchro/docker-driver/testing';
import { STATS_CACHE_MS } from '../src/modules/stats/stats.service.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle, until } from './wait.js';

const MB = 1024 * 1024;
let h: Harness;
let docker: DockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let webImage: string;
const testImages = imageLabels();
const suffix = Math.random().toString(36).slice(2, 7);

const WEB = `RUN ["/bin/mkdir","-p","/www"]
CMD ["sh","-c","echo ok > /www/index.html; exec httpd -f -p 8080 -h /www"]`;

const freshStats = (appId: string) => {
  h.clock.advance(STATS_CACHE_MS);
  return call('GET', `/apps/${appId}/stats`, { token: alice.accessToken });
};

beforeAll(async () => {
  docker = createDockerodeDriver();
  webImage = await buildBusybox(docker, testImages, WEB);
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test' }, { docker });
  alice = await register();
  await unseal(await operator(), newMasterKey());
}, 180_000);

afterAll(() => cleanUpEngine({ h, call, user: alice, docker, testImages }), 120_000);

describe('stats of an app on the real engine', () => {
  it('reads its running container: memory in use under the app\'s limit, a recent start; a docker kill undone counts as a restart', { timeout: 180_000 }, async () => {
    const t0 = Date.now();
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: `stats-${suffix}`, image: webImage, port: 8080, memory: 96, cpu: 0.5 } });
    expect(r.status, r.raw).toBe(202);
    const { appId, deploymentId } = r.body;
    expect((await settle(call, appId, deploymentId, alice.accessToken, { timeoutMs: 120_000, everyMs: 100 })).deployment.status).toBe('succeeded');
    const [c, ...more] = await docker.listContainers({ [LABELS.app]: appId });
    expect(more).toEqual([]);

    const s = await freshStats(appId);
    expect(s.status, s.raw).toBe(200);
    expect(s.body.services).toHaveLength(1);
    expect(s.body.services[0].name).toBe('app');
    const [replica, ...others] = s.body.services[0].replicas;
    expect(others).toEqual([]);
    expect(replica).toMatchObject({ containerId: c!.id, memoryLimitBytes: 96 * MB, restarts: 0 });
    expect(replica.memoryBytes).toBeGreaterThan(0);
    expect(replica.memoryBytes).toBeLessThan(96 * MB);
    // An idle httpd: a small share, never more than its half core.
    expect(replica.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(replica.cpuPercent).toBeLessThanOrEqual(55);
    expect(replica.startedAt).toBe((await docker.inspectContainer(c!.id))!.startedAt);
    // The engine's clock and this process's may differ by a little: "recent" within a second of either side.
    expect(Date.parse(replica.startedAt)).toBeGreaterThanOrEqual(t0 - 1_000);
    expect(Date.parse(replica.startedAt)).toBeLessThanOrEqual(Date.now() + 1_000);

    // `docker kill`: the restart policy leaves it down, the reconciler starts it again (the engine's count stays 0).
    await killContainer(c!.id);
    const back = await until(
      'the killed replica back and counted',
      async () => {
        const x = (await freshStats(appId)).body?.services?.[0]?.replicas?.[0];
        return x?.restarts === 1 ? x : undefined;
      },
      { timeoutMs: 90_000, everyMs: 250 },
    );
    const now = await docker.inspectContainer(c!.id);
    expect(now).toMatchObject({ running: true, restartCount: 0 });
    expect(back).toMatchObject({ containerId: c!.id, memoryLimitBytes: 96 * MB, startedAt: now!.startedAt });
    expect(Date.parse(back.startedAt)).toBeGreaterThan(Date.parse(replica.startedAt));
    expect(back.memoryBytes).toBeGreaterThan(0);
  });
});
