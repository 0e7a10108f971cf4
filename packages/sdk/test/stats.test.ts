// apps.stats against a live server and the real Docker engine: a running app's replica as the engine reads it, a
// stopped app's services without replicas, an unknown app's 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, type AppStats, type CynchroClient, type ReplicaStats } from '../src/index.js';
import { email, masterKey, testImages, uniq, WEB_DOCKERFILE, type TestImages } from './helpers.js';

const MB = 1024 * 1024;
let server: LiveServer;
let images: TestImages;
let image: string;
let c: CynchroClient;
const me = { email: email('stats'), password: 'stats password' };
const created: string[] = [];

beforeAll(async () => {
  images = testImages();
  [server, image] = await Promise.all([startLiveServer({ ADMIN_EMAILS: me.email }), images.build(WEB_DOCKERFILE)]);
  c = createClient({ url: server.url });
  await c.auth.register(me);
  await c.admin.claim(readOperatorToken(server.dataDir));
  await c.admin.unseal(masterKey());
}, 120_000);

afterAll(async () => {
  for (const id of created) await c.apps.delete(id).catch(() => {});
  await server?.stop();
  await images?.cleanup();
}, 60_000);

describe('apps.stats (real engine)', () => {
  it('answers each running replica with the engine\'s readings; a stopped app none; an unknown app app_not_found', async () => {
    const h = await c.deploy({ name: uniq('stats'), image, port: 8080, memory: 80 });
    created.push(h.appId);
    expect((await h.wait({ timeoutMs: 90_000 })).status).toBe('succeeded');

    const stats: AppStats = await c.apps.stats(h.appId);
    expect(stats.services.map((s) => s.name)).toEqual(['app']);
    const [replica, ...more] = stats.services[0]!.replicas;
    expect(more).toEqual([]);
    const r: ReplicaStats = replica!;
    expect(r).toMatchObject({ containerId: expect.stringMatching(/^[a-f0-9]{64}$/), memoryLimitBytes: 80 * MB, restarts: 0 });
    expect(r.memoryBytes).toBeGreaterThan(0);
    expect(r.memoryBytes).toBeLessThan(80 * MB);
    expect(r.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(Date.now() - Date.parse(r.startedAt)).toBeLessThan(5 * 60_000);

    const err = await c.apps.stats('app_doesnotexist').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'app_not_found', status: 404 });

    await c.apps.stop(h.appId);
    expect(await c.apps.stats(h.appId)).toEqual({ services: [{ name: 'app', replicas: [] }] });
  }, 150_000);
});
