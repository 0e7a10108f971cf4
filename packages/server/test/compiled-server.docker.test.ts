// The compiled server as `pnpm start` runs it: scripts/start.mjs (the launcher) builds what is stale, runs
// `node packages/server/dist/main.js` (no tsx anywhere in the process tree) and supervises it. On the real engine,
// the README's acceptance flow with curl's requests: register, login, me, claim, unseal, a secret, deploy an image
// app, reach it through the ingress, logs, delete. A SIGKILLed control plane is restarted by the launcher while the
// ingress keeps serving the app; SIGHUP replaces the control plane alone; SIGTERM to the launcher stops everything;
// a SIGKILLed launcher takes the control plane along and leaves the ingress; exit code 2 is not restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { build } from '../../../scripts/build.mjs';
import { CONTROL_PLANE_ENV, CONTROL_PLANE_NODE_FLAGS } from '../../../scripts/control-plane-process.mjs';
import { freePort } from './free-port.js';
import { get } from './http-get.js';
import { liveIngressPid, reapIngressOf } from './spawn-server.js';
import { settle, until } from './wait.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const WEB = [
  'RUN ["/bin/sh","-c","mkdir /www && echo hello from the compiled server > /www/index.html"]',
  `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo \\"greeting=$GREETING\\"; httpd -f -p 8080 -h /www & wait"]`,
].join('\n');

const driver = createDockerodeDriver();
const labels = imageLabels();
const user = { email: `compiled-${randomBytes(4).toString('hex')}@example.com`, password: 'correct horse battery', name: 'Ada' };
const key = randomBytes(32).toString('hex');
let image: string;
let dataDir: string;
let api: string;
let ingressPort: number;
let launcher: ChildProcess;
let out = '';
let token = '';
let orgId = '';

async function call(method: string, url: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any; raw: string }> {
  const r = await fetch(`${api}${url}`, {
    method,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const raw = await r.text();
  return { status: r.status, body: raw ? JSON.parse(raw) : undefined, raw };
}

const controlPlanePids = () => [...out.matchAll(/"msg":"control plane started","pid":(\d+)/g)].map((m) => Number(m[1]));
const healthy = () => fetch(`${api}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);

beforeAll(async () => {
  // The build the launcher would do, here with the test's own (generous) deadline; the launcher then finds it fresh.
  await Promise.all([build({ ifStale: true, only: ['server'], tolerateTypeErrors: true }), buildBusybox(driver, labels, WEB).then((i) => (image = i))]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-compiled-'));
  reapIngressOf(dataDir);
  const port = await freePort();
  ingressPort = await freePort();
  api = `http://127.0.0.1:${port}`;
  const env = { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, INGRESS_PORT: String(ingressPort), ADMIN_EMAILS: user.email, LOG_LEVEL: 'warn' };
  launcher = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs')], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  launcher.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  launcher.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until('the compiled server to answer /healthz', healthy, { timeoutMs: 120_000, everyMs: 200 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
}, 600_000);

afterAll(async () => {
  if (token) {
    const apps = (await call('GET', '/apps', { token }).catch(() => undefined))?.body?.apps ?? [];
    for (const a of apps) await call('DELETE', `/apps/${a.id}`, { token });
  }
  if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
    const exited = new Promise((r) => launcher.once('exit', r));
    launcher.kill('SIGTERM');
    await exited;
  }
  if (orgId) await driver.removeByLabels({ [LABELS.org]: orgId });
  await driver.removeByLabels(labels, { images: true });
  await driver.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

it('runs on plain node: no tsx loader in the control plane or the ingress', () => {
  const [pid] = controlPlanePids();
  expect(pid).toBeGreaterThan(0);
  const cmdline = (p: number) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean);
  // The memory flags pnpm start runs it with, and nothing else: no loader.
  expect(cmdline(pid!)).toEqual([process.execPath, ...CONTROL_PLANE_NODE_FLAGS, path.join(root, 'packages', 'server', 'dist', 'main.js')]);
  expect(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain(`MALLOC_ARENA_MAX=${CONTROL_PLANE_ENV.MALLOC_ARENA_MAX}`);
  const ingress = liveIngressPid(dataDir);
  expect(ingress).toBeDefined();
  expect(cmdline(ingress!).join(' ')).not.toContain('tsx');
  expect(cmdline(ingress!).at(-1)).toBe(path.join(root, 'packages', 'server', 'dist', 'ingress-main.js'));
});

it("serves the README's acceptance flow, and the app through a control-plane crash", async () => {
  expect((await call('POST', '/auth/register', { body: user })).status).toBe(200);
  const login = await call('POST', '/auth/login', { body: { email: user.email, password: user.password } });
  expect(login.status).toBe(200);
  token = login.body.accessToken;
  orgId = login.body.orgId;
  expect((await call('GET', '/auth/me', { token })).body).toMatchObject({ user: { email: user.email } });

  const operatorToken = fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
  expect((await call('POST', '/admin/claim', { token, body: { token: operatorToken } })).body).toEqual({ operator: true });
  expect((await call('POST', '/admin/unseal', { token, body: { key } })).body).toMatchObject({ sealed: false, outcome: 'initialized' });
  expect((await call('POST', '/secrets', { token, body: { name: 'greeting', data: { GREETING: 'hi' } } })).status).toBeLessThan(300);

  const name = `compiled-${randomBytes(3).toString('hex')}`;
  const d = await call('POST', '/deploy', { token, body: { name, image, port: 8080, envFrom: ['greeting'] } });
  expect(d.status).toBe(202);
  expect(d.body).toMatchObject({ status: 'queued', domain: `${name}.localhost`, url: `http://${name}.localhost:${ingressPort}` });
  const settled = await settle(call, d.body.appId, d.body.deploymentId, token, { timeoutMs: 120_000, everyMs: 200 });
  expect(settled.deployment.status).toBe('succeeded');
  expect(settled.app.status).toBe('running');
  expect(await get(ingressPort, `${name}.localhost`)).toEqual({ status: 200, body: 'hello from the compiled server\n' });

  // The control plane SIGKILLed: the launcher logs and restarts it; the ingress process serves the app throughout.
  const [first] = controlPlanePids();
  process.kill(first!, 'SIGKILL');
  expect(await get(ingressPort, `${name}.localhost`)).toEqual({ status: 200, body: 'hello from the compiled server\n' });
  await until('a new control plane', () => controlPlanePids().length === 2, { timeoutMs: 30_000, everyMs: 100 });
  expect(out).toMatch(/"msg":"control plane died; restarting","code":null,"signal":"SIGKILL"/);
  await until('the restarted server to answer', healthy, { timeoutMs: 60_000, everyMs: 200 });
  expect(await get(ingressPort, `${name}.localhost`)).toEqual({ status: 200, body: 'hello from the compiled server\n' });

  // A new process starts sealed; the same key unseals it.
  expect((await call('POST', '/admin/unseal', { token, body: { key } })).body).toMatchObject({ sealed: false });
  const logs = await until('the app log line', async () => {
    const r = await call('GET', `/apps/${d.body.appId}/logs?tail=20`, { token });
    return r.body?.lines?.some((l: { text: string }) => l.text.includes('greeting=hi')) && r.body;
  }, { timeoutMs: 30_000, everyMs: 200 });
  expect(logs.lines.length).toBeGreaterThan(0);

  expect((await call('DELETE', `/apps/${d.body.appId}`, { token })).status).toBeLessThan(300);
  await until('the ingress to forget the app', async () => (await get(ingressPort, `${name}.localhost`)).status === 404, { timeoutMs: 30_000, everyMs: 100 });
}, 300_000);

it('SIGHUP restarts only the control plane: a new one adopts the same ingress process', async () => {
  const before = controlPlanePids();
  const ingress = liveIngressPid(dataDir);
  expect(ingress).toBeDefined();
  launcher.kill('SIGHUP');
  await until('a control plane started on SIGHUP', () => controlPlanePids().length === before.length + 1, { timeoutMs: 120_000, everyMs: 100 });
  expect(out).toMatch(/"msg":"control plane restarted on SIGHUP"/);
  await until('the new control plane to answer', healthy, { timeoutMs: 60_000, everyMs: 200 });
  expect(liveIngressPid(dataDir)).toBe(ingress);
}, 180_000);

it('SIGTERM to the launcher stops the control plane and the ingress, then the launcher exits 0', async () => {
  const pids = controlPlanePids();
  const current = pids.at(-1)!;
  const ingress = liveIngressPid(dataDir);
  expect(ingress).toBeDefined();
  const exited = new Promise<number | null>((r) => launcher.once('exit', (code) => r(code)));
  launcher.kill('SIGTERM');
  expect(await exited).toBe(0);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  expect(alive(current)).toBe(false);
  await until('the ingress process to end', () => !alive(ingress!), { timeoutMs: 15_000, everyMs: 100 });
}, 60_000);

it('a configuration the server refuses (exit 2) is final: the launcher exits 2 instead of restarting', async () => {
  const env = { ...process.env, PORT: 'not-a-port', DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-badconf-')) };
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  fs.rmSync(env.DATA_DIR, { recursive: true, force: true });
  expect(code).toBe(2);
  expect(log).toContain('refused its configuration; not restarting');
  expect(log.match(/"msg":"control plane started"/g)).toHaveLength(1);
}, 120_000);

it('a SIGKILLed launcher takes the control plane with it (IPC channel closed); the ingress outlives both', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-orphan-'));
  reapIngressOf(dir);
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, INGRESS_PORT: String(await freePort()), LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await until('the server to answer', () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok), { timeoutMs: 120_000, everyMs: 200 });
  const controlPlane = Number(/"msg":"control plane started","pid":(\d+)/.exec(log)![1]);
  const ingress = liveIngressPid(dir);
  expect(ingress).toBeDefined();
  child.kill('SIGKILL');
  const gone = (pid: number) => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  await until('the control plane to exit', () => gone(controlPlane), { timeoutMs: 30_000, everyMs: 100 });
  expect(log).toMatch(/"signal":"launcher gone","ingress":"left serving"/);
  expect(liveIngressPid(dir)).toBe(ingress);
  process.kill(ingress!, 'SIGTERM');
  await until('the ingress to exit', () => gone(ingress!), { timeoutMs: 15_000, everyMs: 100 });
  fs.rmSync(dir, { recursive: true, force: true });
}, 180_000);
