// CONTRACT.md "Releases and rollback" on the fake engine: the history's fields and paging edges, rollback's default
// and named targets and its refusals, a named image's exact id, and who may roll back. The real-engine rollback
// (builds, pruning, the ingress) is rollback.docker.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDockerDriver, type FakeDockerDriver } from '@cynchro/docker-driver';
import { startHarness, type Harness } from './harness.js';
import { teams } from './teams-helpers.js';
import type { TestUser } from './vault-helpers.js';
import { settle } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const t = teams(() => h);
const { call, register } = t;
let n = 0;
const appName = () => `rl-${++n}-${process.pid % 1000}`;
let u: TestUser;

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ QUOTA_MAX_APPS: '100' }, { docker });
  u = await register();
});
afterAll(async () => {
  await h.close();
});

async function deploy(name: string, image: string, extra: Record<string, unknown> = {}) {
  const r = await call('POST', '/deploy', { token: u.accessToken, body: { name, image, port: 8080, ...extra } });
  expect(r.status, r.raw).toBe(202);
  return (await settle(call, r.body.appId, r.body.deploymentId, u.accessToken)).deployment as { id: string; appId: string; status: string; image: string | null; [k: string]: unknown };
}

const page = (appId: string, q = '') => call('GET', `/apps/${appId}/deployments${q}`, { token: u.accessToken });

describe('the history', () => {
  it('carries trigger, rollbackOf, commit, image (the id it ran), timestamps and error', async () => {
    const d = await deploy(appName(), 'acme/hist:1');
    const id = (await h.deps.runtime.imageId('acme/hist:1'))!;
    expect(id).toMatch(/^sha256:/);
    expect(d).toMatchObject({ status: 'succeeded', trigger: 'api', rollbackOf: null, commit: null, image: id, images: { app: id }, error: null });
    expect(Date.parse(d.createdAt as string)).toBeLessThanOrEqual(Date.parse(d.startedAt as string));
    expect(Date.parse(d.startedAt as string)).toBeLessThanOrEqual(Date.parse(d.finishedAt as string));
    docker.failPull('acme/hist:broken', 'manifest unknown');
    const name = (await call('GET', `/apps/${d.appId}`, { token: u.accessToken })).body.app.name as string;
    const failed = await call('POST', '/deploy', { token: u.accessToken, body: { name, image: 'acme/hist:broken', port: 8080 } });
    const f = (await settle(call, failed.body.appId, failed.body.deploymentId, u.accessToken)).deployment;
    expect(f).toMatchObject({ status: 'failed', image: null, images: null, error: expect.stringContaining('manifest unknown') });
  });

  it('pages newest first with nextCursor; limit 1–100, default 20; a bad cursor is 400', async () => {
    const name = appName();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.unshift((await deploy(name, `acme/page:${i}`)).id);
    const appId = (await call('GET', '/apps', { token: u.accessToken })).body.apps.find((a: { name: string }) => a.name === name).id as string;
    const all = await page(appId);
    expect(all.status).toBe(200);
    expect(all.body.deployments.map((d: { id: string }) => d.id)).toEqual(ids);
    expect(all.body.nextCursor).toBeNull();
    const got: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const p = await page(appId, `?limit=2${cursor ? `&before=${cursor}` : ''}`);
      expect(p.status, p.raw).toBe(200);
      sizes.push(p.body.deployments.length);
      got.push(...p.body.deployments.map((d: { id: string }) => d.id));
      cursor = p.body.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(got).toEqual(ids);
    // Exactly one full page: no next one.
    expect((await page(appId, '?limit=5')).body.nextCursor).toBeNull();
    const four = await page(appId, '?limit=4');
    expect((await page(appId, `?limit=4&before=${four.body.nextCursor}`)).body).toEqual({ deployments: [expect.objectContaining({ id: ids[4] })], nextCursor: null });
    for (const q of ['?limit=0', '?limit=101', '?limit=x', '?before=!!', `?before=${Buffer.from('nope').toString('base64url')}`]) {
      const r = await page(appId, q);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toBe('validation');
    }
    // The 20 newest by default (the same as GET /apps/{id}).
    expect((await page(appId)).body.deployments).toEqual((await call('GET', `/apps/${appId}`, { token: u.accessToken })).body.deployments);
    expect((await page('app_nope')).body.error).toBe('app_not_found');
  });
});

describe('rollback', () => {
  it('defaults to the newest earlier release that differs (restarts of the current one are not one), re-running its exact image', async () => {
    const name = appName();
    const d1 = await deploy(name, 'acme/rb:1');
    const d2 = await deploy(name, 'acme/rb:2', { command: ['httpd', '-f', '-p', '8080'] });
    const restart = await call('POST', `/apps/${d2.appId}/restart`, { token: u.accessToken });
    expect(restart.status, restart.raw).toBe(200);
    // The tag moves on the engine: a rollback still runs by what the release ran, pulled again by name if gone.
    const r = await call('POST', `/apps/${d2.appId}/rollback`, { token: u.accessToken });
    expect(r.status, r.raw).toBe(202);
    expect(r.body).toMatchObject({ appId: d2.appId, status: 'queued', rollbackOf: d1.id });
    const rb = (await settle(call, d2.appId, r.body.deploymentId, u.accessToken)).deployment;
    expect(rb).toMatchObject({ status: 'succeeded', trigger: 'rollback', rollbackOf: d1.id, image: d1.image });
    const [c] = await docker.listContainers({ 'cloud.cynchro.app-id': d2.appId });
    expect((await docker.containerSpec(c!.id))!.command).toBeUndefined();
    // The app's spec (what the next /deploy or push starts from) is unchanged by a rollback.
    expect((await call('GET', `/apps/${d2.appId}`, { token: u.accessToken })).body.app.services[0]).toMatchObject({ image: 'acme/rb:2' });
    // Rolling back again goes to the release before the rollback: 2 (its newest deployment, the restart).
    await settle(call, d2.appId, r.body.deploymentId, u.accessToken);
    const again = await call('POST', `/apps/${d2.appId}/rollback`, { token: u.accessToken });
    const target = (await page(d2.appId)).body.deployments.find((d: { id: string }) => d.id === again.body.rollbackOf);
    expect(target).toMatchObject({ trigger: 'restart', image: d2.image });
  });

  it('refuses what cannot be rolled back to: nothing earlier, a failed deployment, a stop (409); unknown ids (404)', async () => {
    const name = appName();
    const d1 = await deploy(name, 'acme/only:1');
    const none = await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken, body: {} });
    expect(none.status).toBe(409);
    expect(none.body.error).toBe('rollback_unavailable');
    docker.failPull('acme/only:bad');
    const bad = await call('POST', '/deploy', { token: u.accessToken, body: { name, image: 'acme/only:bad', port: 8080 } });
    await settle(call, d1.appId, bad.body.deploymentId, u.accessToken);
    const toFailed = await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken, body: { deploymentId: bad.body.deploymentId } });
    expect(toFailed.status).toBe(409);
    expect(toFailed.body.error).toBe('rollback_unavailable');
    expect((await call('POST', `/apps/${d1.appId}/stop`, { token: u.accessToken })).status).toBe(200);
    const stop = (await page(d1.appId)).body.deployments.find((d: { trigger: string }) => d.trigger === 'stop');
    expect((await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken, body: { deploymentId: stop.id } })).body.error).toBe('rollback_unavailable');
    expect((await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken, body: { deploymentId: 'dep_nope' } })).body.error).toBe('deployment_not_found');
    // Another app's deployment is as unknown as a made-up one.
    const other = await deploy(appName(), 'acme/other:1');
    const cross = await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken, body: { deploymentId: other.id } });
    expect(cross.status).toBe(404);
    expect(cross.body.error).toBe('deployment_not_found');
  });

  it('refuses a named image whose tag now names another image: it would not be the same release', async () => {
    const name = appName();
    const d1 = await deploy(name, 'acme/moving:1');
    await deploy(name, 'acme/moving:2');
    docker.addImage('acme/moving:1'); // re-pushed and pulled: the tag moves to a new image
    expect(await h.deps.runtime.imageId('acme/moving:1')).not.toBe(d1.image);
    const r = await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken });
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('rollback_unavailable');
    expect(r.body.message).toContain(d1.image);
  });

  it('a stopped app rolled back runs again', async () => {
    const name = appName();
    const d1 = await deploy(name, 'acme/st:1');
    await deploy(name, 'acme/st:2');
    expect((await call('POST', `/apps/${d1.appId}/stop`, { token: u.accessToken })).status).toBe(200);
    const r = await call('POST', `/apps/${d1.appId}/rollback`, { token: u.accessToken, body: { deploymentId: d1.id } });
    const rb = await settle(call, d1.appId, r.body.deploymentId, u.accessToken);
    expect(rb.deployment.status).toBe('succeeded');
    expect(rb.app.status).toBe('running');
  });

  it('needs the deploy permission and is audited as app.rollback', async () => {
    const team = await t.team();
    const d1 = await t.deployApp(team.members.developer, appName());
    const name = (await call('GET', `/apps/${d1}`, { token: team.members.owner.accessToken })).body.app.name;
    const d2 = await call('POST', '/deploy', { token: team.members.developer.accessToken, body: { name, image: 'acme/web:2', port: 8080 } });
    await settle(call, d1, d2.body.deploymentId, team.members.developer.accessToken);
    expect((await call('POST', `/apps/${d1}/rollback`, { token: team.members.viewer.accessToken })).status).toBe(403);
    const readOnly = (await t.apiToken(team.members.owner, { scopes: ['read'] })).secret;
    expect((await call('POST', `/apps/${d1}/rollback`, { token: readOnly })).status).toBe(403);
    const deployToken = (await t.apiToken(team.members.owner, { scopes: ['deploy'], appId: d1 })).token;
    const ok = await call('POST', `/apps/${d1}/rollback`, { token: (await t.apiToken(team.members.developer, { scopes: ['deploy'], appId: d1 })).secret });
    expect(ok.status, ok.raw).toBe(202);
    expect(deployToken.appId).toBe(d1);
    const events = (await call('GET', '/audit', { token: team.members.owner.accessToken })).body.events;
    expect(events.find((e: { action: string; outcome: string }) => e.action === 'app.rollback' && e.outcome === 'ok')).toMatchObject({ target: { type: 'app', id: d1, name } });
    expect(events.find((e: { action: string; outcome: string }) => e.action === 'app.rollback' && e.outcome === 'denied')).toBeDefined();
  });
});
