// `cynchro deploy --compose` on the real Docker engine: a web (busybox httpd, an image built FROM scratch) and a worker
// from one Compose file. The worker reaches the web by its service name on the app's private network and leaves what
// it fetched on a named volume the web serves, read here through the ingress.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { createClient } from '@cynchro/sdk';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { viaIngress } from '../../sdk/test/helpers.js';
import { runCli, type CliResult } from './run-cli.js';

const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

const COMPOSE = `# The web serves /www (its own page) and /www/shared (the volume the worker writes to).
services:
  web:
    image: \${WEB_IMAGE}
    command: ["/bin/sh", "-c", "mkdir -p /www && echo hello from compose > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
      - "80:8080"
    volumes:
      - shared:/www/shared
    x-cynchro:
      healthcheck:
        path: /index.html

  worker:
    image: \${WEB_IMAGE}
    command: sh -c 'trap "exit 0" TERM; until wget -qO /shared/from-web.txt http://web:8080/; do sleep 1; done; echo worker fetched the web; while true; do sleep 1; done'
    volumes:
      - shared:/shared
    depends_on:
      web:
        condition: service_healthy
    deploy:
      resources:
        limits:
          memory: 64M

volumes:
  shared:
`;

let server: LiveServer;
let image: string;
let dir: string;
let token: string;
const driver = createDockerodeDriver();
const labels = imageLabels();
const name = uniq('compose-duo');

type Result = CliResult;

const cynchro = (args: string[], env: Record<string, string> = {}): Promise<Result> => runCli(dir, args, { env: { CYNCHRO_URL: server.url, CYNCHRO_TOKEN: token, ...env } });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-compose-docker-'));
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), COMPOSE);
  [server, image] = await Promise.all([startLiveServer(), buildBusybox(driver, labels, '')]);
  const owner = createClient({ url: server.url });
  await owner.auth.register({ email: `${uniq('compose')}@example.com`, password: 'compose docker password' });
  token = (await owner.tokens.create({ name: 'compose', scopes: ['deploy', 'read', 'manage'] })).secret;
}, 120_000);

afterAll(async () => {
  if (token) await cynchro(['apps', 'rm', name]);
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

it('deploys a web and a worker from a Compose file; the worker reaches the web by name; the web answers through the ingress', async () => {
  const r = await cynchro(['deploy', name, '--compose', path.join(dir, 'docker-compose.yml'), '--wait', '--json'], { WEB_IMAGE: image });
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { appId: string; domain: string; status: string };
  expect(out.status).toBe('succeeded');
  expect(await viaIngress(server.env.INGRESS_PORT!, out.domain)).toEqual({ status: 200, body: 'hello from compose\n' });
  // The worker fetched http://web:8080/ on the private network and wrote it to the shared volume.
  await expect.poll(async () => viaIngress(server.env.INGRESS_PORT!, out.domain, '/shared/from-web.txt'), { timeout: 30_000 }).toEqual({ status: 200, body: 'hello from compose\n' });
  await expect.poll(async () => (await cynchro(['logs', name, '--tail', '20'])).stdout, { timeout: 15_000 }).toContain('[worker] worker fetched the web');

  const get = await cynchro(['apps', 'get', name, '--json']);
  const { app } = JSON.parse(get.stdout) as { app: { status: string; services: { name: string; port: number | null; domain: string | null; memory: number; volumes: unknown[]; dependsOn: string[]; healthcheck: unknown }[] } };
  expect(app.status).toBe('running');
  expect(app.services.map((s) => ({ name: s.name, port: s.port, domain: s.domain, memory: s.memory, volumes: s.volumes, dependsOn: s.dependsOn, healthcheck: s.healthcheck }))).toEqual([
    { name: 'web', port: 8080, domain: out.domain, memory: 256, volumes: [{ name: 'shared', path: '/www/shared' }], dependsOn: [], healthcheck: { path: '/index.html' } },
    { name: 'worker', port: null, domain: null, memory: 64, volumes: [{ name: 'shared', path: '/shared' }], dependsOn: ['web'], healthcheck: null },
  ]);
}, 150_000);
