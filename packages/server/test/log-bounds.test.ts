// A tenant's output cannot make a logs snapshot unbounded (fake engine).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { MAX_SNAPSHOT_BYTES } from '../src/modules/apps/apps.service.js';
import { startHarness, type Harness } from './harness.js';
import { client, type TestUser } from './vault-helpers.js';
import { settle } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { call, register } = client(() => h);
let alice: TestUser;

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ ROOT_DOMAIN: 'apps.test' }, { docker });
  alice = await register();
});
afterAll(async () => {
  await h?.close();
});

describe('logs snapshot bounds', () => {
  it(`answers at most ${MAX_SNAPSHOT_BYTES} bytes of text, the newest lines`, async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: 'noisy', image: 'acme/noisy:1', replicas: 2 } });
    await settle(call, r.body.appId, r.body.deploymentId, alice.accessToken);
    const cs = await docker.listContainers({ [LABELS.app]: r.body.appId });
    const big = 'z'.repeat(64 * 1024);
    for (let i = 0; i < 40; i++) for (const c of cs) docker.emitLog(c.id, `${i} ${big}`);
    const snap = await call('GET', `/apps/${r.body.appId}/logs?tail=2000`, { token: alice.accessToken });
    expect(snap.status).toBe(200);
    const bytes = snap.body.lines.reduce((n: number, l: { text: string }) => n + l.text.length, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_SNAPSHOT_BYTES);
    expect(bytes).toBeGreaterThan(MAX_SNAPSHOT_BYTES / 2);
    expect(snap.body.lines.at(-1).text.startsWith('39 ')).toBe(true);
  });
});
