// The ingress outlives the control plane (issue 16): a live server (its own process, ingress in a process of its
// own, real engine) serves an image app with a WebSocket. A client polls the app through the ingress every 20 ms
// and a WebSocket to the app stays open while the control plane is SIGKILLed and started again on the same
// DATA_DIR, then restarted with SIGUSR2 (the launcher's restart): no poll fails, the WebSocket keeps passing data,
// and each new control plane adopts the same ingress process. A stop on purpose (SIGTERM) ends both processes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { imageLabels } from '@cynchro/docker-driver/testing';
import { processAlive } from '../src/modules/ingress/ingress-files.js';
import { cleanUpLiveServer } from './engine-cleanup.js';
import { startLiveServer, type LiveServer } from './spawn-server.js';
import { until } from './wait.js';
import { buildWsAppImage, openAppSocket, pollApp, WS_APP_PORT, type AppSocket, type Poller } from './ws-app.js';

const docker = createDockerodeDriver();
const testImages = imageLabels();
let server: LiveServer | undefined;
let image: string;
let token = '';
let orgId = '';
const email = `cp-${randomBytes(4).toString('hex')}@example.com`;

/** One API call on a connection of its own: a pooled socket to a killed server would fail its successor's call. */
function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      server!.url + path,
      {
        method,
        agent: false,
        timeout: 10_000,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let raw = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (raw += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function isGone(pid: number): boolean {
  if (!processAlive(pid)) return true;
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return true;
  }
}

beforeAll(async () => {
  image = await buildWsAppImage(docker, testImages);
  server = await startLiveServer({ ROOT_DOMAIN: 'apps.test', LOG_LEVEL: 'warn' }, { startTimeoutMs: 120_000 });
  const reg = await api('POST', '/auth/register', { email, password: 'restart password' });
  expect(reg.status, JSON.stringify(reg.body)).toBe(200);
  token = reg.body.accessToken;
  orgId = reg.body.orgId;
}, 180_000);

afterAll(() => cleanUpLiveServer({ server, docker, orgId, testImages }), 60_000);

describe('the ingress outlives the control plane', () => {
  it('serves every poll and keeps a WebSocket open across a SIGKILL and a SIGUSR2 restart; SIGTERM stops both', { timeout: 420_000 }, async () => {
    const name = `cpr-${randomBytes(3).toString('hex')}`;
    const deployed = await api('POST', '/deploy', { name, image, port: WS_APP_PORT });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(202);
    const { appId, deploymentId, url } = deployed.body as { appId: string; deploymentId: string; url: string };
    await until('the deployment to succeed', async () => {
      const d = (await api('GET', `/apps/${appId}`)).body.deployments.find((x: { id: string }) => x.id === deploymentId);
      if (d.status === 'failed') throw new Error(`deployment failed: ${d.error}`);
      return d.status === 'succeeded';
    }, { timeoutMs: 90_000, everyMs: 200 });
    expect(url).toBe(`http://${name}.apps.test:${server!.env.INGRESS_PORT}`);

    const ingressPid = server!.ingressPid()!;
    expect(ingressPid).toBeGreaterThan(0);
    expect(ingressPid).not.toBe(server!.proc.pid);

    // A new connection per poll, and a browser-like one on a kept-alive connection.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const pollers: Poller[] = [pollApp({ url }, { everyMs: 20 }), pollApp({ url }, { everyMs: 20, agent: keepAlive })];
    const socket: AppSocket = await openAppSocket({ url });
    let messages = 0;
    const talk = async (tag: string) => {
      expect(await socket.roundTrip(`${tag}-${++messages}`)).toBe(`echo:${tag}-${messages}`);
    };
    try {
      await talk('before');
      await until('polls to be served', () => pollers.every((p) => p.result.ok >= 10), { timeoutMs: 10_000 });

      // 1. A crash: SIGKILL. The ingress keeps serving while nothing runs the control plane.
      const killed = server!.proc;
      const exited = new Promise((r) => killed.once('exit', r));
      killed.kill('SIGKILL');
      await exited;
      const okAtKill = pollers.map((p) => p.result.ok);
      await until('polls served with no control plane', () => pollers.every((p, i) => p.result.ok >= okAtKill[i]! + 10), { timeoutMs: 10_000 });
      await talk('control-plane-down');
      expect(processAlive(ingressPid)).toBe(true);

      const started = Date.now();
      server = await startLiveServer(server!.env, { dataDir: server!.dataDir, startTimeoutMs: 120_000 });
      const restartMs = Date.now() - started;
      expect(server.ingressPid()).toBe(ingressPid); // adopted, not replaced
      await talk('after-sigkill-restart');
      expect((await api('GET', `/apps/${appId}`)).body.app).toMatchObject({ status: 'running', currentDeploymentId: deploymentId });

      // 2. The launcher's restart: SIGUSR2 ends the control plane alone.
      await server.stop('SIGUSR2', { keepIngress: true });
      expect(server.proc.exitCode).toBe(0);
      expect(processAlive(ingressPid)).toBe(true);
      await talk('after-sigusr2');
      server = await startLiveServer(server.env, { dataDir: server.dataDir, startTimeoutMs: 120_000 });
      expect(server.ingressPid()).toBe(ingressPid);
      const okAtRestart = pollers.map((p) => p.result.ok);
      await until('polls served after the restarts', () => pollers.every((p, i) => p.result.ok >= okAtRestart[i]! + 10), { timeoutMs: 10_000 });
      await talk('after-restarts');
      expect(socket.isOpen()).toBe(true);

      const results = await Promise.all(pollers.map((p) => p.stop()));
      console.info(
        `[control-plane restart] SIGKILL → new control plane serving in ${restartMs} ms; ingress pid ${ingressPid} kept; ` +
          `polls every 20 ms: new connections ${results[0]!.ok} ok / ${results[0]!.failed} failed, ` +
          `kept-alive ${results[1]!.ok} ok / ${results[1]!.failed} failed; WebSocket open, ${messages} round trips`,
      );
      for (const r of results) expect(r.failures).toEqual([]);
      expect(results[0]!.ok + results[1]!.ok).toBeGreaterThan(60);

      // 3. A stop on purpose: SIGTERM ends the control plane, which ends the ingress (the test does not touch it).
      await server.stop('SIGTERM', { keepIngress: true });
      expect(server.proc.exitCode).toBe(0);
      await until('the ingress process to exit', () => isGone(ingressPid), { timeoutMs: 10_000 });
      await until('the WebSocket to close', () => socket.closedWith !== undefined, { timeoutMs: 5_000 });
      expect(server.ingressPid()).toBeUndefined();
      server = await startLiveServer(server.env, { dataDir: server.dataDir, startTimeoutMs: 120_000 });
      expect(server.ingressPid()).not.toBe(ingressPid);
      await until('the app to be served by the new ingress', async () => (await api('GET', `/apps/${appId}`)).body.app.status === 'running', { timeoutMs: 30_000 });
      expect((await api('DELETE', `/apps/${appId}`)).status).toBe(200);
    } finally {
      for (const p of pollers) await p.stop();
      keepAlive.destroy();
      await socket.close();
    }
  });
});
