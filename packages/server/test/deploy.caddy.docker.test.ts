// The same deployment flow with INGRESS=caddy: routes programmed through Caddy's admin API, served over HTTPS
// (Caddy's internal CA here; ACME in production). Real engine, real Caddy.
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { createCaddyIngress } from '../src/modules/ingress/index.js';
import { startCaddy, type CaddyProcess } from './caddy-process.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia } from './wait.js';

const docker = createDockerodeDriver();
const labels = imageLabels();
let caddy: CaddyProcess;
let h: Harness;
let user: TestUser;
let image: string;
const { call, register, operator, unseal } = client(() => h);

function httpsGet(domain: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: caddy.httpsPort, servername: domain, headers: { host: domain }, rejectUnauthorized: false, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const settle = async (appId: string, deploymentId: string) => (await settleVia(call, appId, deploymentId, user.accessToken, { timeoutMs: 120_000, everyMs: 100 })).deployment;
beforeAll(async () => {
  image = await buildBusybox(docker, labels, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","echo $VERSION > /www/index.html; exec httpd -f -p 8080 -h /www"]`);
  caddy = await startCaddy();
  const ingress = createCaddyIngress({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, tls: 'internal' });
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'caddy.test', INGRESS: 'caddy', CADDY_ADMIN_URL: caddy.adminUrl }, { docker, ingress });
  user = await register();
  await unseal(await operator(), newMasterKey());
}, 120_000);

afterAll(async () => {
  await h?.close();
  await caddy?.stop();
  if (user) await docker.removeByLabels({ [LABELS.org]: user.orgId }, { volumes: true, images: true });
  await docker.removeByLabels(labels);
  await docker.close();
}, 60_000);

describe('deployments behind Caddy', () => {
  it('deploys, serves over HTTPS at the domain, redeploys, stops (503) and deletes (404)', { timeout: 120_000 }, async () => {
    const first = (await call('POST', '/deploy', { token: user.accessToken, body: { name: 'shop', image, port: 8080, env: { VERSION: 'one' } } })).body;
    expect(first.url).toMatch(/^https:\/\/shop\.caddy\.test/);
    expect((await settle(first.appId, first.deploymentId)).status).toBe('succeeded');
    expect(await httpsGet('shop.caddy.test')).toEqual({ status: 200, body: 'one\n' });
    expect((await httpsGet('nobody.caddy.test')).status).toBe(404);

    const second = (await call('POST', '/deploy', { token: user.accessToken, body: { name: 'shop', image, port: 8080, env: { VERSION: 'two' } } })).body;
    expect((await settle(second.appId, second.deploymentId)).status).toBe('succeeded');
    expect(await httpsGet('shop.caddy.test')).toEqual({ status: 200, body: 'two\n' });

    await call('POST', `/apps/${first.appId}/stop`, { token: user.accessToken });
    expect((await httpsGet('shop.caddy.test')).status).toBe(503);
    await call('POST', `/apps/${first.appId}/restart`, { token: user.accessToken });
    expect((await httpsGet('shop.caddy.test')).body).toBe('two\n');
    await call('DELETE', `/apps/${first.appId}`, { token: user.accessToken });
    expect((await httpsGet('shop.caddy.test')).status).toBe(404);
  });
});
