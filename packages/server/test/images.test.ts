// Images are named, never ids; an image of another org never runs for this one, whatever it is called (fake engine;
// the driver's contract suite proves the same rule on the real engine).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { startHarness, type Harness } from './harness.js';
import { client, type TestUser } from './vault-helpers.js';
import { settle } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { call, register } = client(() => h);
let alice: TestUser;
let mallory: TestUser;

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ ROOT_DOMAIN: 'apps.test' }, { docker });
  alice = await register();
  mallory = await register();
});
afterAll(async () => {
  await h?.close();
});

describe('images', () => {
  it('refuses ids, id prefixes, sha256: forms and the platform build namespace with 400 on image', async () => {
    for (const image of ['3f2a9c1b', 'deadbeef', 'a', `sha256:${'a'.repeat(64)}`, 'sha256:abc', 'a'.repeat(64), 'cynchro/app-x:dep-y-app', 'docker.io/cynchro/x:1']) {
      const r = await call('POST', '/deploy', { token: mallory.accessToken, body: { name: 'thief', image } });
      expect(r.status, image).toBe(400);
      expect(r.body.error).toBe('validation');
      expect(r.body.details.fieldErrors.image, image).toBeDefined();
    }
    const svc = await call('POST', '/deploy', { token: mallory.accessToken, body: { name: 'thief', services: [{ name: 'web', image: 'cafe1234', port: 80 }] } });
    expect(svc.status).toBe(400);
    for (const image of ['cafe:latest', 'acme/api@sha256:' + 'b'.repeat(64), 'registry.local:5000/team/app:1']) {
      expect((await call('POST', '/deploy', { token: mallory.accessToken, body: { name: `ok-${image.length}`, image } })).status, image).toBe(202);
    }
  });

  it("runs an image built for its own org by the recorded id, and never another org's image by any name", async () => {
    // Alice's built image, as the platform labels it, under a name Mallory can guess.
    docker.addImage('alice/secret-sauce:1', { [LABELS.managed]: 'true', [LABELS.org]: alice.orgId, [LABELS.app]: 'app_alice' });
    const stolen = await call('POST', '/deploy', { token: mallory.accessToken, body: { name: 'steal', image: 'alice/secret-sauce:1' } });
    expect(stolen.status).toBe(202);
    const s = await settle(call, stolen.body.appId, stolen.body.deploymentId, mallory.accessToken);
    expect(s.deployment.status).toBe('failed');
    expect(s.deployment.error).toMatch(/another org/i);
    expect(await docker.listContainers({ [LABELS.app]: stolen.body.appId }, { all: true })).toEqual([]);
    const own = await call('POST', '/deploy', { token: alice.accessToken, body: { name: 'sauce', image: 'alice/secret-sauce:1' } });
    expect((await settle(call, own.body.appId, own.body.deploymentId, alice.accessToken)).deployment.status).toBe('succeeded');
  });
});
