// The control plane follows the engine (fake engine, fast): containers killed, removed, restarted or crash-looping,
// an engine restart, replicas, superseded and concurrent jobs, a queued job across a sealed restart.
// test/faults.docker.test.ts and test/engine-restart.docker.test.ts do the same against the real engine.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle, until } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let n = 0;
const masterKey = newMasterKey();
const name = (p = 'app') => `${p}-${++n}-${process.pid % 1000}`;
const ENV = { ...ADMIN_ENV, QUOTA_MAX_APPS: '100', QUOTA_MAX_CPU: '64', QUOTA_MAX_MEMORY_MB: '100000', ROOT_DOMAIN: 'apps.test' };
const OPTS = { reconciler: { settleMs: 20, intervalMs: 60_000 }, runtime: { reconnectMinMs: 10, reconnectMaxMs: 50 }, worker: { timeouts: { drainMs: 20 } } };

async function deployed(body: Record<string, unknown>) {
  const r = await call('POST', '/deploy', { token: alice.accessToken, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const s = await settle(call, r.body.appId, r.body.deploymentId, alice.accessToken);
  expect(s.deployment.status).toBe('succeeded');
  return { ...r.body, ...s } as { appId: string; deploymentId: string; domain: string; app: any };
}
const containers = (appId: string, all = true) => docker.listContainers({ [LABELS.app]: appId }, { all });
const targets = (domain: string) => h.deps.ingress.routes().find((r) => r.domain === domain)?.targets.map((t) => t.port).sort() ?? null;
const ports = async (appId: string) => (await containers(appId, false)).map((c) => c.hostPort!).sort();
const appOf = async (appId: string) => (await call('GET', `/apps/${appId}`, { token: alice.accessToken })).body.app;

/** Routed exactly to the app's running containers, which are `count` of its current deployment. */
async function servedByCurrent(appId: string, domain: string, count = 1) {
  return until(`${domain} routed to ${count} running container(s) of the current deployment`, async () => {
    const app = await appOf(appId);
    const cs = await containers(appId);
    if (cs.length !== count || cs.some((c) => !c.running || c.labels[LABELS.deployment] !== app.currentDeploymentId)) return false;
    const want = await ports(appId);
    return JSON.stringify(targets(domain)) === JSON.stringify(want) && app.status === 'running' ? cs : false;
  });
}

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness(ENV, { docker, ...OPTS });
  alice = await register();
  await unseal(await operator(), masterKey);
});
afterAll(async () => {
  await h?.close();
});

describe('the control plane follows the engine', () => {
  it('docker kill: the container is started again and routed; nothing new is created', async () => {
    const a = await deployed({ name: name('kill'), image: 'acme/web:1' });
    const [c] = await servedByCurrent(a.appId, a.domain);
    docker.kill(c!.id);
    await until('the kill to be noticed', async () => !(targets(a.domain) ?? [1]).length || (await containers(a.appId, false)).length === 0);
    const [after] = await servedByCurrent(a.appId, a.domain);
    expect(after!.id).toBe(c!.id);
  });

  it('docker rm -f: the replica is recreated from the current release (env included) and routed at its new port', async () => {
    const a = await deployed({ name: name('rm'), image: 'acme/web:1', env: { GREETING: 'hi' } });
    const [c] = await servedByCurrent(a.appId, a.domain);
    docker.removeExternally(c!.id);
    const [after] = await servedByCurrent(a.appId, a.domain);
    expect(after!.id).not.toBe(c!.id);
    expect((await docker.containerSpec(after!.id))!.env).toMatchObject({ GREETING: 'hi' });
  });

  it('docker restart and a crash restarted by the engine: routed at the new port once it answers', async () => {
    const a = await deployed({ name: name('restart'), image: 'acme/web:1' });
    const [c] = await servedByCurrent(a.appId, a.domain);
    const before = c!.hostPort;
    docker.restartExternally(c!.id);
    await until('the new port to be routed', async () => JSON.stringify(targets(a.domain)) === JSON.stringify(await ports(a.appId)) && targets(a.domain)![0] !== before);
    const p2 = targets(a.domain)![0];
    docker.crash(c!.id, 1);
    await until('the port after the crash to be routed', async () => JSON.stringify(targets(a.domain)) === JSON.stringify(await ports(a.appId)) && targets(a.domain)![0] !== p2);
    expect((await appOf(a.appId)).status).toBe('running');
  });

  it('an engine restart: 503 while the engine is down, every app routed at its new ports once it is back', async () => {
    const apps = [await deployed({ name: name('eng'), image: 'acme/web:1' }), await deployed({ name: name('eng'), image: 'acme/web:1', replicas: 2 })];
    const before = await Promise.all(apps.map((a) => ports(a.appId)));
    docker.engineDown();
    await until('every route to answer 503', () => apps.every((a) => targets(a.domain)?.length === 0));
    docker.engineUp();
    for (const [i, a] of apps.entries()) {
      const cs = await servedByCurrent(a.appId, a.domain, i + 1);
      expect(cs.map((c) => c.hostPort).sort()).not.toEqual(before[i]);
    }
  });

  it('a container that keeps failing makes the app failed with the reason; running again once it answers', async () => {
    const a = await deployed({ name: name('loop'), image: 'acme/web:1' });
    const [c] = await servedByCurrent(a.appId, a.domain);
    for (let i = 0; i < 3; i++) docker.crashLoop(c!.id, 3);
    const failed = await until('the app to be failed', async () => ((await appOf(a.appId)).status === 'failed' ? appOf(a.appId) : false));
    expect(failed.statusReason).toMatch(/app keeps failing: exited with code 3/);
    expect(targets(a.domain)).toEqual([]);
    docker.recover(c!.id);
    await servedByCurrent(a.appId, a.domain);
    expect((await appOf(a.appId)).statusReason).toBeNull();
  });

  it('extras are removed: a stray container of the app, and replicas beyond the count', async () => {
    const a = await deployed({ name: name('extra'), image: 'acme/web:1' });
    const stray = await docker.runContainer({ name: `stray-${a.appId}`, image: 'acme/web:1', labels: { [LABELS.managed]: 'true', [LABELS.org]: alice.orgId, [LABELS.app]: a.appId, [LABELS.deployment]: 'dep_gone', [LABELS.service]: 'app' } });
    await h.services.reconciler.pass();
    expect(await docker.inspectContainer(stray.id)).toBeNull();
    await servedByCurrent(a.appId, a.domain);
  });
});

describe('replicas', () => {
  it('runs, routes and counts every replica; a dead one is unrouted at once and replaced', async () => {
    const a = await deployed({ name: name('rep'), image: 'acme/web:1', replicas: 3, cpu: 0.5, memory: 128 });
    const cs = await servedByCurrent(a.appId, a.domain, 3);
    expect(new Set(cs.map((c) => c.labels['cloud.cynchro.replica']))).toEqual(new Set(['0', '1', '2']));
    expect(a.app.services[0].replicas).toBe(3);
    docker.removeExternally(cs[1]!.id);
    await servedByCurrent(a.appId, a.domain, 3);
    // A rollout replaces all three.
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: a.app.name, image: 'acme/web:2', replicas: 3, cpu: 0.5, memory: 128 } });
    await settle(call, a.appId, r.body.deploymentId, alice.accessToken);
    const next = await servedByCurrent(a.appId, a.domain, 3);
    expect(next.every((c) => c.labels[LABELS.deployment] === r.body.deploymentId)).toBe(true);
  });

  it('quotas count cpu × replicas and memory × replicas; replicas are validated', async () => {
    const bob = await register();
    const over = await call('POST', '/deploy', { token: bob.accessToken, body: { name: 'wide', image: 'a:1', cpu: 4, replicas: 20 } });
    expect(over.status).toBe(403);
    expect(over.body.error).toBe('quota_exceeded');
    for (const bad of [0, 21, 1.5]) {
      const r = await call('POST', '/deploy', { token: bob.accessToken, body: { name: 'wide', image: 'a:1', replicas: bad } });
      expect(r.status).toBe(400);
      expect(r.body.details.fieldErrors.replicas).toBeDefined();
    }
    const svc = await call('POST', '/deploy', { token: bob.accessToken, body: { name: 'wide', replicas: 2, services: [{ name: 'web', image: 'a:1', port: 80 }] } });
    expect(svc.body.details.fieldErrors.replicas).toBeDefined();
  });
});

describe('one owner of deployment state', () => {
  it('a queued deployment superseded by a newer one is announced canceled, and the last of 10 quick redeploys wins', async () => {
    const a = await deployed({ name: name('burst'), image: 'acme/web:1' });
    const seen = new Map<string, string>();
    const onStatus = (e: { deploymentId: string; status: string }) => seen.set(e.deploymentId, e.status);
    h.deps.events.on('deployment-status', onStatus);
    const ids: string[] = [];
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => call('POST', '/deploy', { token: alice.accessToken, body: { name: a.app.name, image: 'acme/web:1', env: { V: String(i) } } })));
    for (const r of replies) ids.push(r.body.deploymentId);
    const last = replies.at(-1)!.body.deploymentId as string;
    const lastByTime = (await h.deps.db.selectFrom('deployments').select('id').where('app_id', '=', a.appId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst())!.id;
    await settle(call, a.appId, lastByTime, alice.accessToken);
    await h.worker.idle();
    h.deps.events.off('deployment-status', onStatus);
    const rows = await h.deps.db.selectFrom('deployments').select(['id', 'status']).where('id', 'in', ids).execute();
    expect(rows.every((r) => ['succeeded', 'canceled'].includes(r.status))).toBe(true);
    // Every job that ended got its event (a stream following it ends, a waiting SDK call returns).
    for (const r of rows) expect(seen.get(r.id)).toBe(r.status);
    const app = await appOf(a.appId);
    expect(app.currentDeploymentId).toBe(lastByTime);
    expect(ids).toContain(last);
    await servedByCurrent(a.appId, a.domain);
  });

  it('stop, restart and delete fired together never answer 5xx, and the app ends as the last call left it', async () => {
    for (const order of [['stop', 'restart', 'delete'], ['restart', 'stop', 'delete'], ['delete', 'stop', 'restart'], ['stop', 'restart'], ['restart', 'stop']]) {
      const a = await deployed({ name: name('race'), image: 'acme/web:1' });
      const redeploy = await call('POST', '/deploy', { token: alice.accessToken, body: { name: a.app.name, image: 'acme/web:2' } });
      const replies = await Promise.all(
        order.map((op) => (op === 'delete' ? call('DELETE', `/apps/${a.appId}`, { token: alice.accessToken }) : call('POST', `/apps/${a.appId}/${op}`, { token: alice.accessToken }))),
      );
      for (const r of replies) expect([200, 404, 409], JSON.stringify(r.body)).toContain(r.status);
      await h.worker.idle();
      const deletedOk = order.includes('delete') && replies[order.indexOf('delete')]!.status === 200;
      if (deletedOk) {
        expect((await call('GET', `/apps/${a.appId}`, { token: alice.accessToken })).status).toBe(404);
        expect(await containers(a.appId)).toEqual([]);
        expect(targets(a.domain)).toBeNull();
        continue;
      }
      const ok = order.filter((_, i) => replies[i]!.status === 200);
      const final = await appOf(a.appId);
      expect(final.status).toBe(ok.at(-1) === 'stop' ? 'stopped' : 'running');
      const pending = await h.deps.db.selectFrom('deployments').select('status').where('app_id', '=', a.appId).where('status', 'in', ['queued', 'building', 'deploying']).execute();
      expect(pending).toEqual([]);
      expect(redeploy.status).toBe(202);
    }
  });

  it('stop cancels queued deployments and leaves the app stopped; restart runs it again on the same release', async () => {
    const a = await deployed({ name: name('stop'), image: 'acme/web:1' });
    await h.worker.stop(); // hold the queue so the redeploy stays queued
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: a.app.name, image: 'acme/web:2' } });
    const stopping = call('POST', `/apps/${a.appId}/stop`, { token: alice.accessToken });
    await until('the redeploy to be canceled', async () => (await settle(call, a.appId, r.body.deploymentId, alice.accessToken)).deployment.status === 'canceled');
    h.worker.start();
    const stopped = await stopping;
    expect(stopped.status).toBe(200);
    expect(stopped.body.app.status).toBe('stopped');
    await h.worker.idle();
    expect((await appOf(a.appId)).status).toBe('stopped');
    expect(targets(a.domain)).toEqual([]);
    expect(await containers(a.appId, false)).toEqual([]);
    await h.services.reconciler.pass(); // the reconciler leaves a stopped app stopped
    expect(await containers(a.appId, false)).toEqual([]);
    const restarted = await call('POST', `/apps/${a.appId}/restart`, { token: alice.accessToken });
    expect(restarted.status).toBe(200);
    expect(restarted.body.app.status).toBe('running');
    const detail = (await call('GET', `/apps/${a.appId}`, { token: alice.accessToken })).body;
    expect(detail.deployments[0]).toMatchObject({ trigger: 'restart', status: 'succeeded' });
    const [c] = await servedByCurrent(a.appId, a.domain);
    expect(c!.image).toBe('acme/web:1');
  });

  it('a domain that leaves the spec is unrouted at the switch', async () => {
    const a = await deployed({ name: name('dom'), image: 'acme/web:1', domain: `${name('x')}.example.com` });
    expect(targets(a.domain)).toHaveLength(1);
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: a.app.name, image: 'acme/web:1' } });
    await settle(call, a.appId, r.body.deploymentId, alice.accessToken);
    expect(targets(a.domain)).toBeNull();
    expect(targets(r.body.domain)).toHaveLength(1);
  });
});

describe('across a control-plane restart', () => {
  it('a queued deployment that needs the vault waits for the unseal, then runs', async () => {
    const dataDir = h.dataDir;
    const a = await deployed({ name: name('sealed'), image: 'acme/web:1', env: { SECRET_THING: 'one' } });
    await h.worker.stop();
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: a.app.name, image: 'acme/web:2', env: { SECRET_THING: 'two' } } });
    await h.close();
    h = await startHarness(ENV, { docker, dataDir, ...OPTS });
    expect(fs.existsSync(dataDir)).toBe(true);
    alice = { ...alice, ...(await call('POST', '/auth/login', { body: { email: alice.email, password: 'correct horse battery' } })).body };
    const logs = () => call('GET', `/apps/${a.appId}/deployments/${r.body.deploymentId}/logs`, { token: alice.accessToken });
    await until('the job to say it waits for the vault', async () => (await logs()).body.lines?.some((l: { text: string }) => /waiting for the vault/.test(l.text)));
    expect((await logs()).body.deployment.status).toBe('queued');
    await servedByCurrent(a.appId, a.domain); // the running release keeps serving while sealed
    await unseal(await operator(), masterKey);
    expect((await settle(call, a.appId, r.body.deploymentId, alice.accessToken)).deployment.status).toBe('succeeded');
    const [c] = await servedByCurrent(a.appId, a.domain);
    expect((await docker.containerSpec(c!.id))!.env).toMatchObject({ SECRET_THING: 'two' });
  });
});
