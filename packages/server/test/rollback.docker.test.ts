// CONTRACT.md "Releases and rollback" on the real engine: a repo app built three times from a local git server,
// KEEP_RELEASES=2 so the oldest release's image is pruned; rollback to the default target and a named one, each
// served through the embedded ingress with the exact image it ran before and no rebuild; the pruned one is 409
// rollback_unavailable; the history pages; the next push deploys the new head as usual.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startGitHttpServer, type GitHttpServer } from '@cynchro/docker-driver/testing';
import { cleanUpEngine } from './engine-cleanup.js';
import { deliver, rewritten } from './github-webhooks.js';
import { get } from './http-get.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia } from './wait.js';

const BRANCH = 'main';
let h: Harness;
let docker: DockerDriver;
let git: GitHttpServer;
let alice: TestUser;
let base: string;
const testImages = imageLabels();
const suffix = randomBytes(3).toString('hex');
const { call, register, operator, unseal } = client(() => h);

const viaIngress = (domain: string) => get(h.config.ingressPort, domain);

const settle = (appId: string, deploymentId: string) => settleVia(call, appId, deploymentId, alice.accessToken, { timeoutMs: 180_000, everyMs: 100 });

function site(version: string): Record<string, string> {
  return {
    Dockerfile: `FROM ${base}\nCOPY www /www\nSTOPSIGNAL SIGKILL\nCMD ["httpd","-f","-p","8080","-h","/www"]\n`,
    'www/index.html': `${version}\n`,
  };
}

beforeAll(async () => {
  docker = createDockerodeDriver();
  git = await startGitHttpServer({});
  base = await buildBusybox(docker, testImages);
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test', GIT_ALLOW_HOSTS: git.host, KEEP_RELEASES: '2' }, { docker, worker: { timeouts: { healthMs: 15_000 } } });
  alice = await register();
  await unseal(await operator(), newMasterKey());
}, 180_000);

afterAll(() => cleanUpEngine({ h, call, user: alice, docker, testImages, alsoClose: () => git?.close() }), 120_000);

describe('rollback of a repo app on the real engine', () => {
  let appId: string;
  let domain: string;
  let secret: string;
  const deps: { id: string; image: string; commit: string }[] = [];
  const name = `rb-${suffix}`;
  const repoUrl = () => `${git.baseUrl}/rb.git`;

  async function deployVersion(version: string, first = false): Promise<void> {
    const commit = first ? git.createRepo('rb', site(version), { branch: BRANCH }) : git.commit('rb', { 'www/index.html': `${version}\n` }, { branch: BRANCH });
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name, repo: repoUrl(), branch: BRANCH, port: 8080 } });
    expect(r.status, r.raw).toBe(202);
    ({ appId, domain } = r.body);
    if (first) secret = r.body.webhook.secret;
    const { deployment } = await settle(appId, r.body.deploymentId);
    expect(deployment, JSON.stringify(deployment)).toMatchObject({ status: 'succeeded', trigger: 'api', commit, rollbackOf: null, image: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(deployment.images).toEqual({ app: deployment.image });
    deps.push({ id: deployment.id, image: deployment.image, commit });
    expect(await viaIngress(domain)).toEqual({ status: 200, body: `${version}\n` });
  }

  it('three releases: only the last KEEP_RELEASES (2) keep their images', async () => {
    await deployVersion('v1', true);
    await deployVersion('v2');
    await deployVersion('v3');
    const images = (await docker.listImages({ [LABELS.app]: appId })).map((i) => i.id);
    expect(new Set(images)).toEqual(new Set([deps[1]!.image, deps[2]!.image]));
    expect(await docker.inspectImage(deps[0]!.image)).toBeNull();
  }, 400_000);

  it('the pruned release answers 409 rollback_unavailable and nothing is queued', async () => {
    const before = (await call('GET', `/apps/${appId}/deployments?limit=100`, { token: alice.accessToken })).body.deployments.length;
    const r = await call('POST', `/apps/${appId}/rollback`, { token: alice.accessToken, body: { deploymentId: deps[0]!.id } });
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('rollback_unavailable');
    expect(r.body.message).toMatch(/gone/);
    expect((await call('GET', `/apps/${appId}/deployments?limit=100`, { token: alice.accessToken })).body.deployments).toHaveLength(before);
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v3\n' });
  });

  it('the default target is the release before the current one: served again, by the same image, without a build', async () => {
    const r = await call('POST', `/apps/${appId}/rollback`, { token: alice.accessToken, body: {} });
    expect(r.status, r.raw).toBe(202);
    expect(r.body).toEqual({ appId, deploymentId: expect.stringMatching(/^dep_/), status: 'queued', rollbackOf: deps[1]!.id });
    const { deployment } = await settle(appId, r.body.deploymentId);
    expect(deployment).toMatchObject({ status: 'succeeded', trigger: 'rollback', rollbackOf: deps[1]!.id, image: deps[1]!.image, commit: deps[1]!.commit });
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v2\n' });
    const logs = await call('GET', `/apps/${appId}/deployments/${r.body.deploymentId}/logs`, { token: alice.accessToken });
    expect(logs.body.lines.map((l: { stream: string }) => l.stream)).not.toContain('build');
    expect(logs.raw).not.toMatch(/building app/);
    const [running] = await docker.listContainers({ [LABELS.app]: appId });
    expect(running!.image).toBe(deps[1]!.image);
  }, 180_000);

  it('a named target: back to the newest release', async () => {
    const r = await call('POST', `/apps/${appId}/rollback`, { token: alice.accessToken, body: { deploymentId: deps[2]!.id } });
    expect(r.status, r.raw).toBe(202);
    const { deployment } = await settle(appId, r.body.deploymentId);
    expect(deployment).toMatchObject({ status: 'succeeded', trigger: 'rollback', rollbackOf: deps[2]!.id, image: deps[2]!.image });
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v3\n' });
  }, 180_000);

  it('unknown deployments are 404; another app’s too', async () => {
    const r = await call('POST', `/apps/${appId}/rollback`, { token: alice.accessToken, body: { deploymentId: 'dep_nope' } });
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('deployment_not_found');
  });

  it('the history records it all, newest first, page by page', async () => {
    const seen: { id: string; trigger: string; rollbackOf: string | null }[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: { deployments: { id: string; trigger: string; rollbackOf: string | null }[]; nextCursor: string | null } } = await call('GET', `/apps/${appId}/deployments?limit=2${before ? `&before=${before}` : ''}`, { token: alice.accessToken });
      expect(page.status).toBe(200);
      seen.push(...page.body.deployments);
      before = page.body.nextCursor;
      pages++;
    } while (before);
    expect(pages).toBe(3);
    expect(seen.map((d) => d.trigger)).toEqual(['rollback', 'rollback', 'api', 'api', 'api']);
    expect(seen.map((d) => d.rollbackOf)).toEqual([deps[2]!.id, deps[1]!.id, null, null, null]);
    expect(seen.slice(2).map((d) => d.id)).toEqual([deps[2]!.id, deps[1]!.id, deps[0]!.id]);
  });

  it('keeps its webhook: the next push deploys the new head as usual', async () => {
    const after = git.commit('rb', { 'www/index.html': 'v4\n' }, { branch: BRANCH });
    const r = await deliver(h.app, appId, { event: 'push', body: rewritten('github-push-new-branch', { ref: `refs/heads/${BRANCH}`, before: deps[2]!.commit, after }), secret });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ queued: true, commitSha: after });
    const { deployment } = await settle(appId, r.body.deploymentId);
    expect(deployment).toMatchObject({ status: 'succeeded', trigger: 'webhook', commit: after, rollbackOf: null });
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'v4\n' });
  }, 180_000);
});
