// Repo builds and GitHub push-to-deploy on the real engine: a private repo on a local smart-HTTP git server, built
// with its token and served through the embedded ingress; a bad token failing clearly without the token anywhere;
// the shared/fixtures deliveries (rewritten to the repo's branch and commits, then signed) driving rebuilds.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startGitHttpServer, type GitHttpServer } from '@cynchro/docker-driver/testing';
import { cleanUpEngine } from './engine-cleanup.js';
import { deliver, rewritten, sha, type Delivery } from './github-webhooks.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia } from './wait.js';

const TOKEN = `ghp_${randomBytes(18).toString('hex')}`;
const BAD_TOKEN = `ghp_${randomBytes(18).toString('hex')}`;
const BRANCH = 'main';
const REF = `refs/heads/${BRANCH}`;

let h: Harness;
let docker: DockerDriver;
let git: GitHttpServer;
let alice: TestUser;
let base: string;
const serverLog: string[] = [];
const testImages = imageLabels();
const suffix = randomBytes(3).toString('hex');
const { call, register, operator, unseal } = client(() => h);

/** GET through the embedded ingress with an explicit Host (*.apps.test does not resolve). */
function viaIngress(domain: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: h.config.ingressPort, path, headers: { host: domain }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const settle = (appId: string, deploymentId: string) => settleVia(call, appId, deploymentId, alice.accessToken, { timeoutMs: 180_000, everyMs: 100 });
const deploymentCount = async (appId: string) => (await h.deps.db.selectFrom('deployments').select('id').where('app_id', '=', appId).execute()).length;

function site(version: string): Record<string, string> {
  return {
    // httpd as PID 1 ignores SIGTERM: stop it at once instead of after the 10 s stop timeout.
    Dockerfile: `FROM ${base}\nCOPY www /www\nSTOPSIGNAL SIGKILL\nCMD ["httpd","-f","-p","8080","-h","/www"]\n`,
    'www/index.html': `${version}\n`,
  };
}

beforeAll(async () => {
  docker = createDockerodeDriver();
  git = await startGitHttpServer({ token: TOKEN });
  base = await buildBusybox(docker, testImages);
  const log = pino({ level: 'debug' }, { write: (line: string) => void serverLog.push(line) });
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test', GIT_ALLOW_HOSTS: git.host }, { docker, log, worker: { timeouts: { healthMs: 15_000 } } });
  alice = await register();
  await unseal(await operator(), newMasterKey());
}, 180_000);

afterAll(() => cleanUpEngine({ h, call, user: alice, docker, testImages, alsoClose: () => git?.close() }), 120_000);

describe('a private repo app on the real engine', () => {
  let appId: string;
  let domain: string;
  let secret: string;
  let c1: string;
  let c2: string;
  const repoUrl = () => `${git.baseUrl}/site.git`;
  const send = (d: Delivery) => deliver(h.app, appId, d);
  const push = (before: string, after: string, fields: Record<string, unknown> = {}) => rewritten('github-push-new-branch', { ref: REF, before, after, ...fields });

  it('builds with its token, records the commit, and is served at its domain', async () => {
    c1 = git.createRepo('site', site('v1'), { branch: BRANCH, private: true });
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: `site-${suffix}`, repo: repoUrl(), branch: BRANCH, repoToken: TOKEN, port: 8080 } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    ({ appId, domain } = r.body);
    secret = r.body.webhook.secret;
    const { deployment, app, raw } = await settle(appId, r.body.deploymentId);
    expect(deployment, JSON.stringify(deployment)).toMatchObject({ status: 'succeeded', commitSha: c1, error: null });
    expect(app).toMatchObject({ status: 'running', repo: { url: repoUrl(), branch: BRANCH, hasToken: true } });
    expect(raw).not.toContain(TOKEN);
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v1\n' });
    // The token really was what opened the private repo (as HTTP Basic auth, like a GitHub PAT).
    expect(git.authHeaders.some((a) => Buffer.from(a.replace(/^Basic /, ''), 'base64').toString('utf8').endsWith(`:${TOKEN}`))).toBe(true);
    const logs = await call('GET', `/apps/${appId}/deployments/${r.body.deploymentId}/logs`, { token: alice.accessToken });
    expect(logs.raw).toContain(`at commit ${c1}`);
    expect(logs.raw).not.toContain(TOKEN);
  }, 180_000);

  it('ping (the fixture) → 200, nothing queued', async () => {
    const before = await deploymentCount(appId);
    const r = await send({ event: 'ping', body: rewritten('github-ping'), secret });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, event: 'ping' });
    expect(await deploymentCount(appId)).toBe(before);
  });

  it('a signed push of a new commit rebuilds that commit and the new content is served; a redelivery queues nothing', async () => {
    c2 = git.commit('site', { 'www/index.html': 'v2\n' }, { branch: BRANCH });
    const delivery = crypto.randomUUID();
    const r = await send({ event: 'push', body: push(c1, c2), secret, delivery });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ queued: true, outcome: 'queued', commitSha: c2 });
    // Answered before the build, not after it; the time includes one `git ls-remote` (is `after` still the head?).
    expect(r.ms).toBeLessThan(5000);
    const again = await send({ event: 'push', body: push(c1, c2), secret, delivery });
    expect(again.body).toMatchObject({ outcome: 'duplicate', deploymentId: r.body.deploymentId });
    const { deployment } = await settle(appId, r.body.deploymentId);
    expect(deployment, JSON.stringify(deployment)).toMatchObject({ status: 'succeeded', trigger: 'webhook', commitSha: c2 });
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v2\n' });
    const images = await docker.listImages({ [LABELS.app]: appId });
    expect(images.length).toBeGreaterThanOrEqual(1);
    expect(images.length).toBeLessThanOrEqual(5); // KEEP_RELEASES' default
  }, 180_000);

  it('pushes to another branch, the tag-deletion fixture and a deletion of the branch queue nothing', async () => {
    const before = await deploymentCount(appId);
    const other = git.commit('site', { 'www/index.html': 'feature\n' }, { branch: 'feature' });
    const cases: Delivery[] = [
      { event: 'push', body: push(c2, other, { ref: 'refs/heads/feature' }), secret },
      { event: 'push', body: rewritten('github-push-tag-deleted', { before: c2 }), secret },
      { event: 'push', body: push(c2, '0'.repeat(40), { deleted: true, created: false }), secret },
    ];
    for (const d of cases) {
      const r = await send(d);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ queued: false });
    }
    expect(await deploymentCount(appId)).toBe(before);
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v2\n' });
  });

  it('a captured signed push replayed under a new delivery id once the branch moved on → 200 stale_push, nothing queued', async () => {
    // The delivery of c2 above, as an eavesdropper kept it; then the branch moves on (that push's delivery is lost).
    const captured = push(c1, c2);
    git.commit('site', { 'www/index.html': 'newer\n' }, { branch: BRANCH });
    const before = await deploymentCount(appId);
    const authBefore = git.authHeaders.length;
    const r = await send({ event: 'push', body: captured, secret, delivery: crypto.randomUUID() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ ok: true, event: 'push', queued: false, commitSha: c2, reason: 'stale_push' });
    expect(await deploymentCount(appId)).toBe(before);
    // The private repo was asked, with the app's token.
    expect(git.authHeaders.slice(authBefore).some((a) => Buffer.from(a.replace(/^Basic /, ''), 'base64').toString('utf8').endsWith(`:${TOKEN}`))).toBe(true);
    await h.worker.idle();
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v2\n' });
  }, 60_000);

  it('bad and missing signatures answer 401 invalid_signature and do nothing', async () => {
    const c3 = git.commit('site', { 'www/index.html': 'v3\n' }, { branch: BRANCH });
    const before = await deploymentCount(appId);
    const body = push(c2, c3);
    for (const d of [
      { event: 'push', body, secret: 'wrong-secret' },
      { event: 'push', body, signature: null },
      { event: 'push', body, signature: 'sha256=deadbeef' },
    ] satisfies Delivery[]) {
      const r = await send(d);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_signature');
    }
    expect(await deploymentCount(appId)).toBe(before);
    await h.worker.idle();
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v2\n' });
  });

  it('a bad token fails with a clear error; neither token appears in the error, the log, GET /apps or the server log', async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: `badtoken-${suffix}`, repo: repoUrl(), branch: BRANCH, repoToken: BAD_TOKEN, port: 8080 } });
    expect(r.status).toBe(202);
    const { deployment, app, raw } = await settle(r.body.appId, r.body.deploymentId);
    expect(deployment.status).toBe('failed');
    expect(deployment.error).toMatch(/authentication failed/i);
    expect(app.status).toBe('failed');
    const logs = await call('GET', `/apps/${r.body.appId}/deployments/${r.body.deploymentId}/logs`, { token: alice.accessToken });
    const list = await call('GET', '/apps', { token: alice.accessToken });
    const everything = [deployment.error, raw, logs.raw, list.raw, serverLog.join('')].join('\n');
    for (const t of [BAD_TOKEN, TOKEN]) {
      expect(everything).not.toContain(t);
      expect(everything).not.toContain(Buffer.from(`x-access-token:${t}`).toString('base64'));
    }
    expect(serverLog.length).toBeGreaterThan(0);
    await call('DELETE', `/apps/${r.body.appId}`, { token: alice.accessToken });
  }, 180_000);

  it('DELETE /apps/:id removes its containers and built images', async () => {
    const r = await call('DELETE', `/apps/${appId}`, { token: alice.accessToken });
    expect(r.status).toBe(200);
    expect(await docker.listContainers({ [LABELS.app]: appId }, { all: true })).toEqual([]);
    expect(await docker.listImages({ [LABELS.app]: appId })).toEqual([]);
    expect((await viaIngress(domain)).status).toBe(404);
  }, 60_000);
});
