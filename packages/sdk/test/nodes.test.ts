// admin.nodes against a live server on the real Docker engine: the one node is this machine (its host name, CPUs
// and memory), and its app count is what the engine runs, the app just deployed included; operators only.
import { availableParallelism, hostname, totalmem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '@cynchro/docker-driver';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, type CynchroClient, type RuntimeNode } from '../src/index.js';
import { email, masterKey, testImages, uniq, WEB_DOCKERFILE, type TestImages } from './helpers.js';

let server: LiveServer;
let images: TestImages;
let image: string;
let op: CynchroClient;
let user: CynchroClient;
const me = { email: email('nodes'), password: 'nodes password' };
const created: string[] = [];

beforeAll(async () => {
  images = testImages();
  [server, image] = await Promise.all([startLiveServer({ ADMIN_EMAILS: me.email }), images.build(WEB_DOCKERFILE)]);
  op = createClient({ url: server.url });
  await op.auth.register(me);
  await op.admin.claim(readOperatorToken(server.dataDir));
  await op.admin.unseal(masterKey());
  user = createClient({ url: server.url });
  await user.auth.register({ email: email('nodes-user'), password: 'user password' });
}, 120_000);

afterAll(async () => {
  for (const id of created) await op.apps.delete(id).catch(() => {});
  await server?.stop();
  await images?.cleanup();
}, 60_000);

/** Apps with a running container on the engine, as the engine lists them. */
async function appsOnEngine(): Promise<Set<string>> {
  const running = await images.driver.listContainers({ [LABELS.managed]: 'true' });
  return new Set(running.filter((c) => c.running).map((c) => c.labels[LABELS.app]).filter((a): a is string => !!a));
}

/**
 * The node as the API answers it while the engine's own list says the same before and after the call (other
 * control planes may share this engine and start or stop apps meanwhile), with the apps the engine runs then.
 */
async function steadyReading(): Promise<{ node: RuntimeNode; onEngine: Set<string> }> {
  for (let attempt = 0; ; attempt++) {
    const before = await appsOnEngine();
    const nodes = await op.admin.nodes();
    const after = await appsOnEngine();
    expect(nodes).toHaveLength(1);
    if ([...before].sort().join() === [...after].sort().join()) return { node: nodes[0]!, onEngine: after };
    if (attempt === 20) throw new Error('the apps on the engine kept changing');
  }
}

describe('admin.nodes (real engine)', () => {
  it("answers this machine as the one node, counting the apps the engine runs (a new one included); others are forbidden", async () => {
    const first = await steadyReading();
    expect(first.node).toEqual({
      id: expect.any(String),
      hostname: hostname(),
      role: 'manager',
      state: 'ready',
      availability: 'active',
      cpus: availableParallelism(),
      memoryMb: Math.round(totalmem() / (1024 * 1024)),
      apps: first.onEngine.size,
    });
    expect(first.node.id.length).toBeGreaterThan(0);

    const h = await op.deploy({ name: uniq('nodes'), image, port: 8080, memory: 64 });
    created.push(h.appId);
    expect((await h.wait({ timeoutMs: 90_000 })).status).toBe('succeeded');
    const second = await steadyReading();
    expect(second.onEngine.has(h.appId)).toBe(true);
    expect(second.node.apps).toBe(second.onEngine.size);
    expect(second.node.id).toBe(first.node.id);

    await expect(user.admin.nodes()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
  }, 150_000);
});
