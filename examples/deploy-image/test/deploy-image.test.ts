// The example against a server started for it, with a busybox web image built FROM scratch on the real engine.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient } from '@cynchro/sdk';
import { run } from '../src/main.js';

const driver = createDockerodeDriver();
const labels = imageLabels();
let server: LiveServer;
let image: string;

beforeAll(async () => {
  [server, image] = await Promise.all([
    startLiveServer(),
    buildBusybox(
      driver,
      labels,
      [
        'RUN ["/bin/sh","-c","mkdir /www && echo hello from the example > /www/index.html"]',
        `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo example-started; (while true; do echo still here; sleep 1; done) & httpd -f -p 8080 -h /www & wait"]`,
      ].join('\n'),
    ),
  ]);
});

afterAll(async () => {
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
});

it('deploys, waits, fetches the URL through the ingress, tails the logs and deletes the app', async () => {
  const email = `example-${randomBytes(4).toString('hex')}@example.com`;
  const lines: string[] = [];
  const out = await run({
    url: server.url,
    email,
    password: 'example password',
    register: true,
    image,
    port: 8080,
    ingress: `http://127.0.0.1:${server.env.INGRESS_PORT}`,
    log: (l) => lines.push(l),
  });
  expect(out.url).toMatch(/^http:\/\/hello-[a-z0-9]+\.localhost:\d+$/);
  expect(out).toMatchObject({ status: 200, body: 'hello from the example\n' });
  expect(out.logs).toContain('example-started');
  expect(out.logs).toContain('still here');
  expect(lines).toContain('succeeded');
  expect(lines.some((l) => l.includes('traffic switched'))).toBe(true);
  // Deleted: the account has no app left, and nothing of it remains in Docker.
  const c = createClient({ url: server.url, credentials: { email, password: 'example password' } });
  expect(await c.apps.list()).toEqual([]);
  expect(await driver.listContainers({ 'cloud.cynchro.app-id': out.appId }, { all: true })).toEqual([]);
});
