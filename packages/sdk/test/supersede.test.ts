// A deployment superseded while the SDK follows it: wait() has its WebSocket open on the queued deployment, a newer
// deployment of the same app cancels it, and wait() rejects with `deployment_canceled` (the server's reason as the
// message) instead of hanging or resolving. Live server, real Docker engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox } from '@cynchro/docker-driver/testing';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, type CynchroClient, type WebSocketConstructor } from '../src/index.js';
import { email, uniq, viaIngress, WEB_DOCKERFILE } from './helpers.js';

let server: LiveServer;
const driver = createDockerodeDriver();
// This run's own label on its images; `managed` not `true` (as runLabels()), and no org label (an image labelled
// for an org runs only for that org).
const runLabel = { [LABELS.managed]: 'driver-test', 'cloud.cynchro.test-run': uniq('supersede') };
let web: string;
let never: string;
let c: CynchroClient;
const me = { email: email('supersede'), password: 'supersede password' };
const created: string[] = [];

beforeAll(async () => {
  [server, web, never] = await Promise.all([
    startLiveServer(),
    buildBusybox(driver, runLabel, WEB_DOCKERFILE),
    // Never listens: a deployment of it sits in its health check, holding the app's queue.
    buildBusybox(driver, runLabel, 'CMD ["/bin/sh","-c","trap \'exit 0\' TERM; sleep 600 & wait"]'),
  ]);
  c = createClient({ url: server.url });
  await c.auth.register(me); // no inline env or secrets here, so the vault may stay sealed
}, 120_000);

afterAll(async () => {
  for (const id of created) await c.apps.delete(id).catch(() => {});
  await server?.stop();
  await driver.removeByLabels(runLabel, { images: true }).catch(() => {});
  await driver.close();
}, 60_000);

describe('a queued deployment superseded while wait() follows it', () => {
  it('wait() rejects with deployment_canceled; the newer deployment then runs', { timeout: 150_000 }, async () => {
    const name = uniq('sup');
    const hold = await c.deploy({ name, image: never, port: 8080 });
    created.push(hold.appId);
    await expect.poll(async () => (await c.apps.get(hold.appId)).deployments.find((d) => d.id === hold.deploymentId)?.status, { timeout: 30_000, interval: 100 }).toBe('deploying');

    const mid = await c.deploy({ name, image: web, port: 8080 });
    expect((await c.apps.get(mid.appId)).deployments.find((d) => d.id === mid.deploymentId)?.status).toBe('queued');

    // Follow it through a WebSocket we can see, and supersede it only once that socket is open.
    const sockets: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const follower = createClient({ url: server.url, tokens: (await c.auth.tokens())!, WebSocket: Tracked as unknown as WebSocketConstructor });
    const waited = follower.apps.deployments.wait(mid.appId, mid.deploymentId, { timeoutMs: 60_000 }).then(
      (d) => ({ resolved: d }),
      (e: unknown) => ({ rejected: e }),
    );
    await expect.poll(() => sockets[0]?.readyState, { timeout: 10_000, interval: 20 }).toBe(WebSocket.OPEN);

    const last = await c.deploy({ name, image: web, port: 8080 });
    const outcome = await waited;
    expect(outcome).toHaveProperty('rejected');
    const err = (outcome as { rejected: unknown }).rejected;
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'deployment_canceled', message: expect.stringMatching(/superseded/) });
    expect((err as CynchroError).details).toMatchObject({ deployment: { id: mid.deploymentId, status: 'canceled' } });
    // The stream told it (no fallback to polling needed): exactly the one socket, closed normally.
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.readyState).toBe(WebSocket.CLOSED);

    // The one holding the queue goes; the newest runs and serves.
    await c.apps.deployments.cancel(hold.appId, hold.deploymentId);
    await expect(last.wait({ timeoutMs: 90_000 })).resolves.toMatchObject({ id: last.deploymentId, status: 'succeeded' });
    expect(await viaIngress(server.env.INGRESS_PORT!, last.domain)).toEqual({ status: 200, body: 'hello from cynchro\n' });
  });
});
