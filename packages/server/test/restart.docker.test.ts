// Kill the control plane (SIGKILL) in the middle of a deployment, start it again on the same DATA_DIR: the
// interrupted deployment ends `failed` (`interrupted`), its half-started container is removed, and the previous
// version keeps being served through rebuilt routes. Real engine, real server processes.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, exec, runLabels } from '@cynchro/docker-driver/testing';
import { get } from './http-get.js';
import { startLiveServer, type LiveServer } from './spawn-server.js';

const docker = createDockerodeDriver();
const imageLabels = runLabels();
let server: LiveServer;
let webImage: string;
let slowImage: string;
let token = '';
let orgId = '';
const email = `ops-${randomBytes(4).toString('hex')}@example.com`;
const masterKey = randomBytes(32).toString('hex');

async function api(method: string, path: string, body?: unknown, auth = token) {
  const r = await fetch(server.url + path, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: (await r.json()) as any };
}

async function deploymentStatus(appId: string, id: string) {
  const r = await api('GET', `/apps/${appId}`);
  return r.body.deployments.find((d: { id: string }) => d.id === id) as { status: string; error: string | null };
}

async function until<T>(fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  [webImage, slowImage] = await Promise.all([
    buildBusybox(docker, imageLabels, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","echo v1 > /www/index.html; exec httpd -f -p 8080 -h /www"]`),
    buildBusybox(docker, imageLabels, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","sleep 600"]`),
  ]);
  server = await startLiveServer({ ROOT_DOMAIN: 'apps.test', ADMIN_EMAILS: email });
  const reg = await api('POST', '/auth/register', { email, password: 'restart password' }, '');
  token = reg.body.accessToken;
  orgId = reg.body.orgId;
  expect((await api('POST', '/admin/unseal', { key: masterKey })).status).toBe(200);
  expect((await api('POST', '/secrets', { name: 'files', data: { TOKEN: 'file-survives-restarts' } })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await docker.removeByLabels({ [LABELS.org]: orgId }, { volumes: true, images: true });
  await docker.removeByLabels({ [LABELS.org]: imageLabels[LABELS.org] });
  await docker.close();
}, 60_000);

describe('control plane killed mid-deployment', () => {
  it('comes back with nothing stuck and nothing orphaned, the old version still served', { timeout: 120_000 }, async () => {
    const name = `rs-${randomBytes(3).toString('hex')}`;
    const v1 = (await api('POST', '/deploy', { name, image: webImage, port: 8080, secretFiles: ['files'] })).body;
    await until(async () => (await deploymentStatus(v1.appId, v1.deploymentId)).status === 'succeeded');
    const ingressPort = Number(server.env.INGRESS_PORT);
    expect((await get(ingressPort, v1.domain)).body).toBe('v1\n');

    // A deployment that will sit in its health check (the container never listens).
    const v2 = (await api('POST', '/deploy', { name, image: slowImage, port: 8080 })).body;
    await until(async () => (await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).length > 0);
    expect((await deploymentStatus(v2.appId, v2.deploymentId)).status).toBe('deploying');

    server.proc.kill('SIGKILL');
    await new Promise((r) => server.proc.once('exit', r));
    // Killed: the half-started container is still there, and so is v1's.
    expect((await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).length).toBe(1);
    // The ingress died with the process: nothing answers on its port now.
    await expect(get(ingressPort, v1.domain)).rejects.toThrow();

    server = await startLiveServer(server.env, { dataDir: server.dataDir });
    const d2 = await deploymentStatus(v2.appId, v2.deploymentId);
    expect(d2).toMatchObject({ status: 'failed', error: 'interrupted' });
    expect(await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).toEqual([]);
    expect((await docker.listContainers({ [LABELS.app]: v1.appId }, { all: true })).map((c) => c.labels[LABELS.deployment])).toEqual([v1.deploymentId]);
    expect((await api('GET', `/apps/${v1.appId}`)).body.app).toMatchObject({ status: 'running', currentDeploymentId: v1.deploymentId });
    expect(await get(ingressPort, v1.domain)).toEqual({ status: 200, body: 'v1\n' });

    // The deployment's log says why.
    const log = await api('GET', `/apps/${v2.appId}/deployments/${v2.deploymentId}/logs`);
    expect(log.body.lines.at(-1)).toMatchObject({ stream: 'error', text: expect.stringContaining('interrupted') });

    // The new process holds no secret file contents. Unsealing hands them back to the driver, so when the app crashes
    // and the engine restarts it (its tmpfs empty again) the files come back.
    expect((await api('POST', '/admin/unseal', { key: masterKey })).status).toBe(200);
    const [running] = await docker.listContainers({ [LABELS.app]: v1.appId });
    await exec(running!.id, ['kill', '1']).catch(() => undefined); // the app dies; restart policy brings it back
    const cat = async () => (await exec(running!.id, ['cat', '/run/secrets/TOKEN']).catch(() => ({ out: '' }))).out;
    expect(await until(async () => (await cat()) === 'file-survives-restarts', 20_000)).toBe(true);
    // Restarting through the API materialises them again too.
    const restarted = await api('POST', `/apps/${v1.appId}/restart`);
    expect(restarted.status, JSON.stringify(restarted.body)).toBe(200);
    const [fresh] = await docker.listContainers({ [LABELS.app]: v1.appId });
    expect((await exec(fresh!.id, ['cat', '/run/secrets/TOKEN'])).out).toBe('file-survives-restarts');
    expect(await get(ingressPort, v1.domain)).toEqual({ status: 200, body: 'v1\n' });

    expect((await api('DELETE', `/apps/${v1.appId}`)).status).toBe(200);
    expect(await docker.listContainers({ [LABELS.app]: v1.appId }, { all: true })).toEqual([]);
  });
});
