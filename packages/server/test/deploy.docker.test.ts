// Deployments against the real Docker engine and the real embedded ingress: served at the domain, zero-downtime
// redeploys, failed health keeping the old version, env and secret files, logs and live streams, lifecycle,
// and a two-service app calling its sibling by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDockerodeDriver, LABELS, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, exec, imageLabels } from '@cynchro/docker-driver/testing';
import { startHarness, type Harness } from './harness.js';
import { get, keepAlive } from './http-get.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia, until } from './wait.js';

let h: Harness;
let docker: DockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let bob: TestUser;
let webImage: string;
let deadImage: string;
const testImages = imageLabels();
const suffix = Math.random().toString(36).slice(2, 7);
const name = (p: string) => `${p}-${suffix}`;

// Serves $VERSION and selected env at /, a /healthz, and logs each start line to stdout.
const WEB = `RUN ["/bin/mkdir","-p","/www"]
CMD ["sh","-c","echo \\"version=$VERSION greeting=$GREETING\\" > /www/index.html; echo ok > /www/healthz; echo \\"started $VERSION\\"; exec httpd -f -vv -p 8080 -h /www"]`;
const DEAD = `CMD ["sh","-c","echo never listening; sleep 600"]`;

async function deploy(token: string, body: Record<string, unknown>) {
  const r = await call('POST', '/deploy', { token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body as { appId: string; deploymentId: string; domain: string; url: string };
}

const settle = (appId: string, deploymentId: string, token: string) => settleVia(call, appId, deploymentId, token, { timeoutMs: 120_000, everyMs: 100 });
const viaIngress = (domain: string, path = '/') => get(h.config.ingressPort, domain, path);

beforeAll(async () => {
  docker = createDockerodeDriver();
  [webImage, deadImage] = await Promise.all([buildBusybox(docker, testImages, WEB), buildBusybox(docker, testImages, DEAD)]);
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test' }, { docker, worker: { timeouts: { healthMs: 4000 } } });
  alice = await register();
  bob = await register();
  await unseal(await operator(), newMasterKey());
}, 180_000);

afterAll(async () => {
  for (const u of [alice, bob]) {
    if (!u) continue;
    const apps = (await call('GET', '/apps', { token: u.accessToken })).body?.apps ?? [];
    for (const a of apps) await call('DELETE', `/apps/${a.id}`, { token: u.accessToken });
  }
  await h?.close();
  await docker.removeByLabels(testImages);
  if (alice) await docker.removeByLabels({ [LABELS.org]: alice.orgId });
  if (bob) await docker.removeByLabels({ [LABELS.org]: bob.orgId });
}, 120_000);

describe('an image app on the real engine', () => {
  let appId: string;
  let domain: string;

  it('202 → succeeded → served at its domain through the ingress, with env and secret files', async () => {
    await call('POST', '/secrets', { token: alice.accessToken, body: { name: 'api-keys', data: { TOKEN: 's3cr3t-file-value' } } });
    const d = await deploy(alice.accessToken, { name: name('web'), image: webImage, port: 8080, env: { VERSION: 'v1', GREETING: 'hi' }, secretFiles: ['api-keys'] });
    ({ appId, domain } = d);
    expect(d.url).toBe(`http://${domain}:${h.config.ingressPort}`);
    const { deployment, app } = await settle(d.appId, d.deploymentId, alice.accessToken);
    expect(deployment).toMatchObject({ status: 'succeeded', error: null });
    expect(app.status).toBe('running');
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'version=v1 greeting=hi\n' });
    const [c] = await docker.listContainers({ [LABELS.app]: appId });
    const file = await exec(c!.id, ['sh', '-c', 'cat /run/secrets/TOKEN; echo; stat -c %a /run/secrets/TOKEN']);
    expect(file.out.trim().split('\n')).toEqual(['s3cr3t-file-value', '400']);
  });

  it('a host nobody holds answers 404 from the ingress', async () => {
    expect((await viaIngress(`nobody-${suffix}.apps.test`)).status).toBe(404);
  });

  it('redeploys with zero failed requests while a client polls the domain', async () => {
    let stop = false;
    const seen = { ok: 0, failed: 0, versions: new Set<string>() };
    const poller = (async () => {
      while (!stop) {
        try {
          const r = await get(h.config.ingressPort, domain, '/', { agent: keepAlive });
          if (r.status === 200) {
            seen.ok++;
            seen.versions.add(r.body.trim());
          } else seen.failed++;
        } catch {
          seen.failed++;
        }
      }
    })();
    const d = await deploy(alice.accessToken, { name: name('web'), image: webImage, port: 8080, env: { VERSION: 'v2', GREETING: 'hi' }, secretFiles: ['api-keys'] });
    const { deployment } = await settle(d.appId, d.deploymentId, alice.accessToken);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await poller;
    expect(deployment.status).toBe('succeeded');
    expect(seen.failed).toBe(0);
    expect(seen.ok).toBeGreaterThan(20);
    expect([...seen.versions]).toEqual(['version=v1 greeting=hi', 'version=v2 greeting=hi']);
    // the old container is gone, only the new deployment's remains
    const cs = await docker.listContainers({ [LABELS.app]: appId }, { all: true });
    expect(cs.map((c) => c.labels[LABELS.deployment])).toEqual([d.deploymentId]);
  });

  it('a failing health check fails the deployment and the old version keeps serving', async () => {
    const d = await deploy(alice.accessToken, { name: name('web'), image: deadImage, port: 8080 });
    const { deployment, app } = await settle(d.appId, d.deploymentId, alice.accessToken);
    expect(deployment.status).toBe('failed');
    expect(deployment.error).toMatch(/health|timed out/i);
    expect(app.status).toBe('running');
    expect((await viaIngress(domain)).body).toBe('version=v2 greeting=hi\n');
    expect((await docker.listContainers({ [LABELS.deployment]: d.deploymentId }, { all: true })).length).toBe(0);
  });

  it('logs: snapshot, live stream (a request shows up), and denial without a token or for another org', async () => {
    const snap = await call('GET', `/apps/${appId}/logs?tail=5`, { token: alice.accessToken });
    expect(snap.body.lines).toHaveLength(5);
    expect(snap.body.lines.every((l: { service: string }) => l.service === 'app')).toBe(true);
    const stamps = snap.body.lines.map((l: { timestamp: string }) => l.timestamp);
    expect([...stamps].sort()).toEqual(stamps);

    const base = `ws://127.0.0.1:${await listenPort()}`;
    const denied = await closeOf(new WebSocket(`${base}/apps/${appId}/logs/stream`));
    expect(denied).toEqual({ code: 4401, reason: 'missing_bearer_token', messages: 0 });
    const foreign = await closeOf(new WebSocket(`${base}/apps/${appId}/logs/stream?token=${bob.accessToken}`));
    expect(foreign).toEqual({ code: 4404, reason: 'app_not_found', messages: 0 });

    const ws = new WebSocket(`${base}/apps/${appId}/logs/stream?token=${alice.accessToken}`);
    const lines: { type: string; text?: string; service?: string; stream?: string; timestamp?: string }[] = [];
    ws.on('message', (m) => lines.push(JSON.parse(String(m))));
    await new Promise((r) => ws.once('open', r));
    await waitUntil(() => lines.some((l) => l.type === 'ready'));
    const marker = `/marker-${Date.now()}`;
    await viaIngress(domain, marker);
    await waitUntil(() => lines.some((l) => l.type === 'log' && l.text!.includes(marker)));
    const hit = lines.find((l) => l.type === 'log' && l.text!.includes(marker))!;
    expect(hit).toMatchObject({ service: 'app', stream: expect.stringMatching(/stdout|stderr/), timestamp: expect.any(String) });
    ws.close();
    const after = await call('GET', `/apps/${appId}/logs?tail=20`, { token: alice.accessToken });
    expect(after.body.lines.some((l: { text: string }) => l.text.includes(marker))).toBe(true);
  });

  it('stop answers 503 at the domain, restart serves again, delete leaves nothing behind', async () => {
    expect((await call('POST', `/apps/${appId}/stop`, { token: alice.accessToken })).body.app.status).toBe('stopped');
    expect((await viaIngress(domain)).status).toBe(503);
    expect((await call('POST', `/apps/${appId}/restart`, { token: alice.accessToken })).body.app.status).toBe('running');
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'version=v2 greeting=hi\n' });
    const [c] = await docker.listContainers({ [LABELS.app]: appId });
    expect((await exec(c!.id, ['cat', '/run/secrets/TOKEN'])).out).toBe('s3cr3t-file-value');
    expect((await call('DELETE', `/apps/${appId}`, { token: alice.accessToken })).status).toBe(200);
    expect(await docker.listContainers({ [LABELS.app]: appId }, { all: true })).toEqual([]);
    expect(await docker.listNetworks({ [LABELS.app]: appId })).toEqual([]);
    expect((await viaIngress(domain)).status).toBe(404);
  });
});

describe('a two-service app', () => {
  it('web calls api by its service name on the private network; only web is routed', async () => {
    const app = name('duo');
    const d = await deploy(alice.accessToken, {
      name: app,
      services: [
        { name: 'web', image: webImage, port: 8080, dependsOn: ['api'], command: ['sh', '-c', 'mkdir -p /www && wget -qO /www/index.html http://api:8080/ && exec httpd -f -p 8080 -h /www'] },
        { name: 'api', image: webImage, port: 8080, env: { VERSION: 'from-api' }, domain: `api-${app}.example.test` },
      ],
    });
    const { deployment } = await settle(d.appId, d.deploymentId, alice.accessToken);
    expect(deployment.status, deployment.error ?? '').toBe('succeeded');
    expect((await viaIngress(d.domain)).body).toBe('version=from-api greeting=\n');
    expect((await viaIngress(`api-${app}.example.test`)).body).toBe('version=from-api greeting=\n');
    const cs = await docker.listContainers({ [LABELS.app]: d.appId });
    expect(cs.map((c) => c.labels[LABELS.service]).sort()).toEqual(['api', 'web']);
    await call('DELETE', `/apps/${d.appId}`, { token: alice.accessToken });
  });
});

describe('more of the pipeline on the real engine', () => {
  it('the live stream follows the app across a redeploy; the deployment log stream replays and ends with the status', async () => {
    const app = name('stream');
    const first = await deploy(alice.accessToken, { name: app, image: webImage, port: 8080, env: { VERSION: 's1' } });
    await settle(first.appId, first.deploymentId, alice.accessToken);
    const base = `ws://127.0.0.1:${await listenPort()}`;
    const ws = new WebSocket(`${base}/apps/${first.appId}/logs/stream?token=${alice.accessToken}`);
    const msgs: { type: string; text?: string; deploymentId?: string }[] = [];
    ws.on('message', (m) => msgs.push(JSON.parse(String(m))));
    await waitUntil(() => msgs.some((m) => m.type === 'ready'));
    const second = await deploy(alice.accessToken, { name: app, image: webImage, port: 8080, env: { VERSION: 's2' } });
    // The deployment's own log, followed live to its end.
    const dlog = new WebSocket(`${base}/apps/${first.appId}/deployments/${second.deploymentId}/logs/stream?token=${alice.accessToken}`);
    const dmsgs: { type: string; text?: string; deployment?: { status: string } }[] = [];
    dlog.on('message', (m) => dmsgs.push(JSON.parse(String(m))));
    const dclose = closeOf(dlog);
    await settle(second.appId, second.deploymentId, alice.accessToken);
    await waitUntil(() => msgs.some((m) => m.type === 'log' && m.text!.includes('started s2')));
    expect(msgs.some((m) => m.type === 'switched' && m.deploymentId === second.deploymentId)).toBe(true);
    await viaIngress(second.domain, '/after-switch');
    await waitUntil(() => msgs.some((m) => m.type === 'log' && m.text!.includes('/after-switch')));
    ws.close();
    expect((await dclose).code).toBe(1000);
    expect(dmsgs.some((m) => m.type === 'log' && m.text!.includes('traffic switched'))).toBe(true);
    expect(dmsgs.at(-1)).toMatchObject({ type: 'status', deployment: { status: 'succeeded' } });
    await call('DELETE', `/apps/${first.appId}`, { token: alice.accessToken });
  });

  it('named volumes persist across deploys and go with the app', async () => {
    const app = name('vol');
    const body = (v: string) => ({
      name: app,
      services: [{ name: 'web', image: webImage, port: 8080, volumes: [{ name: 'data', path: '/data' }], command: ['sh', '-c', `echo ${v} >> /data/history; mkdir -p /www; cp /data/history /www/index.html; exec httpd -f -p 8080 -h /www`] }],
    });
    const a = await deploy(alice.accessToken, body('one'));
    await settle(a.appId, a.deploymentId, alice.accessToken);
    const b = await deploy(alice.accessToken, body('two'));
    expect((await settle(b.appId, b.deploymentId, alice.accessToken)).deployment.status).toBe('succeeded');
    expect((await viaIngress(b.domain)).body).toBe('one\ntwo\n');
    expect((await docker.listVolumes({ [LABELS.app]: a.appId })).length).toBe(1);
    await call('DELETE', `/apps/${a.appId}`, { token: alice.accessToken });
    expect(await docker.listVolumes({ [LABELS.app]: a.appId })).toEqual([]);
  });

  it('cancels a running deployment: it ends canceled, its containers go, the old version keeps serving', async () => {
    const app = name('cancel');
    const ok = await deploy(alice.accessToken, { name: app, image: webImage, port: 8080, env: { VERSION: 'c1' } });
    await settle(ok.appId, ok.deploymentId, alice.accessToken);
    const slow = await deploy(alice.accessToken, { name: app, image: deadImage, port: 8080 });
    await until('the slow deployment to start a container', async () => (await docker.listContainers({ [LABELS.deployment]: slow.deploymentId }, { all: true })).length > 0, { timeoutMs: 5000, everyMs: 50 });
    const c = await call('POST', `/apps/${ok.appId}/deployments/${slow.deploymentId}/cancel`, { token: alice.accessToken });
    expect(c.status).toBe(200);
    const { deployment, app: dto } = await settle(slow.appId, slow.deploymentId, alice.accessToken);
    expect(deployment).toMatchObject({ status: 'canceled', error: 'canceled by request' });
    expect(dto.currentDeploymentId).toBe(ok.deploymentId);
    expect(await docker.listContainers({ [LABELS.deployment]: slow.deploymentId }, { all: true })).toEqual([]);
    expect((await viaIngress(ok.domain)).body).toBe('version=c1 greeting=\n');
    await call('DELETE', `/apps/${ok.appId}`, { token: alice.accessToken });
  });
});

let listening: number | undefined;
async function listenPort(): Promise<number> {
  if (!listening) {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    listening = (h.app.server.address() as import('node:net').AddressInfo).port;
  }
  return listening;
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string; messages: number }> {
  let messages = 0;
  ws.on('message', () => messages++);
  return new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason), messages })));
}

const waitUntil = (fn: () => boolean, ms = 15_000) => until('the condition', fn, { timeoutMs: ms, everyMs: 50 });

