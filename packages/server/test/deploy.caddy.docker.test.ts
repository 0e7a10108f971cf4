// INGRESS=caddy end to end: the control plane loads Caddy's one static configuration at start (internal CA here,
// ACME in production), answers Caddy's on-demand TLS questions, and deploys (or a control-plane restart) change
// only the ingress's routes, never Caddy. Real engine, real Caddy, the ingress as its own process, HTTPS verified
// against Caddy's own root.
import http from 'node:http';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { imageLabels } from '@cynchro/docker-driver/testing';
import { startCaddy, type CaddyProcess } from './caddy-process.js';
import { cleanUpEngine } from './engine-cleanup.js';
import { freePort, startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia, until } from './wait.js';
import { buildWsAppImage, getApp, openAppSocket, pollApp, WS_APP_PORT, type AppTarget } from './ws-app.js';

const docker = createDockerodeDriver();
const labels = imageLabels();
let caddy: CaddyProcess;
let h: Harness;
let user: TestUser;
let image: string;
let askPort: number;
let env: Record<string, string>;
let rootCa: Buffer;
const { call, register, operator, unseal } = client(() => h);

const settle = async (appId: string, deploymentId: string) => (await settleVia(call, appId, deploymentId, user.accessToken, { timeoutMs: 120_000, everyMs: 100 })).deployment;
const caddyConfig = async () => (await fetch(`${caddy.adminUrl}/config/`)).json() as Promise<unknown>;
const target = (domain: string): AppTarget => ({ url: `https://${domain}:${caddy.httpsPort}`, ca: rootCa });

function ask(domain: string): Promise<number> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port: askPort, path: `/ask?domain=${encodeURIComponent(domain)}`, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject),
  );
}

async function deploy(name: string, env: Record<string, string>): Promise<{ appId: string; deploymentId: string; url: string }> {
  const r = await call('POST', '/deploy', { token: user.accessToken, body: { name, image, port: WS_APP_PORT, env } });
  expect(r.status).toBe(202);
  return r.body;
}

beforeAll(async () => {
  image = await buildWsAppImage(docker, labels);
  caddy = await startCaddy({ logLevel: 'INFO' });
  askPort = await freePort();
  env = {
    ...ADMIN_ENV,
    ROOT_DOMAIN: 'caddy.test',
    INGRESS: 'caddy',
    // As in production: the ingress is its own process, Caddy in front of it.
    INGRESS_PROCESS: 'separate',
    // Fixed across the control-plane restart below, as in production (the harness would pick a new one).
    INGRESS_PORT: String(await freePort()),
    CADDY_ADMIN_URL: caddy.adminUrl,
    CADDY_HTTP_PORT: String(caddy.httpPort),
    CADDY_HTTPS_PORT: String(caddy.httpsPort),
    CADDY_TLS: 'internal',
    TLS_ASK_PORT: String(askPort),
  };
  h = await startHarness(env, { docker });
  user = await register();
  await unseal(await operator(), newMasterKey());
  // Caddy creates its CA when the config that uses it loads (a throw is "not yet").
  rootCa = await until('the internal CA root', () => caddy.rootCert(), { timeoutMs: 10_000 });
}, 180_000);

afterAll(async () => {
  await cleanUpEngine({ h, call, user, docker, testImages: labels });
  await caddy?.stop();
}, 120_000);

describe('deployments behind Caddy', () => {
  it('serves over HTTPS at https://<domain>:<port>, answers the ask endpoint for held domains only, stops (503) and deletes (404)', { timeout: 180_000 }, async () => {
    expect(await ask('shop.caddy.test')).toBe(404);
    const first = await deploy('shop', { APP_NAME: 'one' });
    expect(first.url).toBe(`https://shop.caddy.test:${caddy.httpsPort}`);
    // Held from the moment the deploy is accepted: the first visitor may come as soon as it switches.
    expect(await ask('shop.caddy.test')).toBe(200);
    expect((await settle(first.appId, first.deploymentId)).status).toBe('succeeded');
    const r = await getApp({ url: first.url, ca: rootCa });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ app: 'one', host: 'shop.caddy.test', xfp: 'https', xfh: 'shop.caddy.test' });
    // No certificate for a name no app holds: the handshake itself fails.
    expect(await ask('nobody.caddy.test')).toBe(404);
    await expect(getApp(target('nobody.caddy.test'))).rejects.toThrow();

    await call('POST', `/apps/${first.appId}/stop`, { token: user.accessToken });
    expect((await getApp(target('shop.caddy.test'))).status).toBe(503);
    await call('DELETE', `/apps/${first.appId}`, { token: user.accessToken });
    expect(await ask('shop.caddy.test')).toBe(404);
    // Caddy keeps the certificate it has; the ingress no longer routes the name.
    expect((await getApp(target('shop.caddy.test'))).status).toBe(404);
  });

  it('10 deploys of another app: zero failed requests every 20 ms, a WebSocket stays open, Caddy never reloads', { timeout: 600_000 }, async () => {
    const steady = await deploy('steady', { APP_NAME: 'steady' });
    expect((await settle(steady.appId, steady.deploymentId)).status).toBe('succeeded');
    const busy = await deploy('busy', { APP_NAME: 'busy-0' });
    expect((await settle(busy.appId, busy.deploymentId)).status).toBe('succeeded');

    const config = await caddyConfig();
    const loads = await caddy.configLoads();
    const socket = await openAppSocket({ url: steady.url, ca: rootCa });
    expect(await socket.roundTrip('before')).toBe('echo:before');
    const agent = new https.Agent({ keepAlive: true });
    const fresh = pollApp({ url: steady.url, ca: rootCa }, { everyMs: 20 });
    const kept = pollApp({ url: steady.url, ca: rootCa }, { everyMs: 20, agent });
    try {
      for (let i = 1; i <= 10; i++) {
        const d = await deploy('busy', { APP_NAME: `busy-${i}` });
        expect((await settle(d.appId, d.deploymentId)).status).toBe('succeeded');
        const r = await getApp({ url: busy.url, ca: rootCa });
        expect(JSON.parse(r.body)).toMatchObject({ app: `busy-${i}` });
      }
    } finally {
      await fresh.stop();
      await kept.stop();
      agent.destroy();
    }
    console.log(
      `behind Caddy, 10 deploys of another app: ${fresh.result.ok} ok / ${fresh.result.failed} failed (new connections), ` +
        `${kept.result.ok} ok / ${kept.result.failed} failed (kept-alive); WebSocket ${socket.isOpen() ? 'open' : `closed (${socket.closedWith})`}; ` +
        `Caddy config loads during the deploys: ${(await caddy.configLoads()) - loads}`,
    );
    expect(fresh.result.failures).toEqual([]);
    expect(kept.result.failures).toEqual([]);
    expect(fresh.result.ok).toBeGreaterThan(50);
    expect(kept.result.ok).toBeGreaterThan(50);
    expect(socket.isOpen()).toBe(true);
    expect(await socket.roundTrip('after')).toBe('echo:after');
    await socket.close();
    expect(await caddy.configLoads()).toBe(loads);
    expect(await caddyConfig()).toEqual(config);
  });

  it('a control-plane restart reloads nothing: Caddy keeps its config, an open WebSocket and the apps keep serving', { timeout: 180_000 }, async () => {
    const steady = await deploy('calm', { APP_NAME: 'calm' });
    expect((await settle(steady.appId, steady.deploymentId)).status).toBe('succeeded');
    const config = await caddyConfig();
    const loads = await caddy.configLoads();
    const socket = await openAppSocket({ url: steady.url, ca: rootCa });
    const poller = pollApp({ url: steady.url, ca: rootCa }, { everyMs: 20 });
    try {
      await h.close({ keepIngress: true });
      h = await startHarness(env, { docker, dataDir: h.dataDir });
      expect(await ask('calm.caddy.test')).toBe(200);
      // Traffic goes on after the new control plane's first pass over the routes, too.
      const okAtStart = poller.result.ok;
      await until('requests after the restart', () => poller.result.ok >= okAtStart + 25, { timeoutMs: 30_000 });
    } finally {
      await poller.stop();
    }
    console.log(`behind Caddy, a control-plane restart: ${poller.result.ok} ok / ${poller.result.failed} failed; Caddy config loads: ${(await caddy.configLoads()) - loads}`);
    expect(poller.result.failures).toEqual([]);
    expect(await caddy.configLoads()).toBe(loads);
    expect(await caddyConfig()).toEqual(config);
    expect(await socket.roundTrip('after restart')).toBe('echo:after restart');
    await socket.close();
  });
});
