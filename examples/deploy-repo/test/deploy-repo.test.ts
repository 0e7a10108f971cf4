// The example against a server started for it: a local smart-HTTP git server stands in for GitHub (allowed by
// GIT_ALLOW_HOSTS), the repo's Dockerfile builds on a busybox image, and the build runs on the real engine.
import http from 'node:http';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startGitHttpServer, type GitHttpServer } from '@cynchro/docker-driver/testing';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient } from '@cynchro/sdk';
import { run } from '../src/main.js';

const driver = createDockerodeDriver();
const labels = imageLabels();
const operator = { email: `repo-${randomBytes(4).toString('hex')}@example.com`, password: 'repo example password' };
let server: LiveServer;
let git: GitHttpServer;
let sha: string;

function viaIngress(port: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: Number(port), path: '/', headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  git = await startGitHttpServer();
  const base = await buildBusybox(driver, labels);
  sha = git.createRepo('site', {
    Dockerfile: [
      `FROM ${base}`,
      'COPY index.html /www/index.html',
      `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo site-started; httpd -f -p 8080 -h /www & wait"]`,
    ].join('\n'),
    'index.html': 'built from git\n',
  });
  server = await startLiveServer({ GIT_ALLOW_HOSTS: git.host, ADMIN_EMAILS: operator.email, PUBLIC_API_URL: 'https://api.example.test' });
  // The webhook secret is encrypted under the master key: unseal first.
  const op = createClient({ url: server.url });
  await op.auth.register(operator);
  await op.admin.claim(readOperatorToken(server.dataDir)); // an ADMIN_EMAILS account proves control of the host first
  await op.admin.unseal(randomBytes(32).toString('hex'));
});

afterAll(async () => {
  await server?.stop();
  await git?.close();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
});

it('deploys a repo app, prints its webhook, builds it and serves it', async () => {
  const lines: string[] = [];
  const out = await run({ url: server.url, ...operator, repo: `${git.baseUrl}/site.git`, branch: 'main', port: 8080, log: (l) => lines.push(l) });
  try {
    expect(out.webhook).toEqual({
      url: `https://api.example.test/webhooks/github/${out.appId}`,
      secret: expect.stringMatching(/^\S{16,}$/),
      contentType: 'application/json',
      events: ['push'],
    });
    const text = lines.join('\n');
    expect(text).toContain(`Payload URL:  ${out.webhook.url}`);
    expect(text).toContain(`Secret:       ${out.webhook.secret}`);
    expect(out.deployment).toMatchObject({ status: 'succeeded', commitSha: sha, trigger: expect.any(String) });
    const domain = new URL(out.url).hostname;
    expect(await viaIngress(server.env.INGRESS_PORT!, domain)).toEqual({ status: 200, body: 'built from git\n' });
    // GET /apps/:id shows the same webhook block.
    const c = createClient({ url: server.url, credentials: operator });
    expect((await c.apps.get(out.appId)).webhook).toEqual(out.webhook);

    // Rotation: a new secret; the old one no longer verifies.
    const rotated = await c.apps.rotateWebhook(out.appId);
    expect(rotated).toMatchObject({ url: out.webhook.url, contentType: 'application/json', events: ['push'] });
    expect(rotated.secret).not.toBe(out.webhook.secret);
    expect((await c.apps.get(out.appId)).webhook).toEqual(rotated);

    // Push-to-deploy, with this test standing in for GitHub: a new commit, then a signed push delivery.
    const next = git.commit('site', { 'index.html': 'pushed to main\n' });
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: next, repository: { clone_url: `${git.baseUrl}/site.git` } });
    const deliver = (secret: string) =>
      fetch(out.webhook.url.replace('https://api.example.test', server.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': randomUUID(),
          'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`,
        },
        body: payload,
      });
    const stale = await deliver(out.webhook.secret!);
    expect(stale.status).toBe(401);
    expect(await stale.json()).toMatchObject({ error: 'invalid_signature' });
    const push = await deliver(rotated.secret!);
    expect(push.status).toBe(200);
    const delivery = (await push.json()) as { queued: boolean; deploymentId: string; commitSha: string };
    expect(delivery).toMatchObject({ queued: true, commitSha: next });
    const redeployed = await c.apps.deployments.wait(out.appId, delivery.deploymentId, { timeoutMs: 120_000 });
    expect(redeployed).toMatchObject({ status: 'succeeded', commitSha: next });
    await expect.poll(async () => (await viaIngress(server.env.INGRESS_PORT!, domain)).body, { timeout: 10_000 }).toBe('pushed to main\n');
  } finally {
    await createClient({ url: server.url, credentials: operator }).apps.delete(out.appId);
  }
});
