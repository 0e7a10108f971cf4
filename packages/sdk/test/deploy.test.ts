// deploy + wait, apps, logs (snapshot and live), deployments, against a live server and the real Docker engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, type CynchroClient, type DeploymentLogLine, type LogStreamEvent, type WebSocketConstructor } from '../src/index.js';
import { email, masterKey, testImages, uniq, viaIngress, WEB_DOCKERFILE, type TestImages } from './helpers.js';

let server: LiveServer;
let images: TestImages;
let image: string;
let c: CynchroClient;
const me = { email: email(), password: 'deploy password' };
const created: string[] = [];

beforeAll(async () => {
  images = testImages();
  [server, image] = await Promise.all([startLiveServer({ ADMIN_EMAILS: me.email }), images.build(WEB_DOCKERFILE)]);
  c = createClient({ url: server.url });
  await c.auth.register(me);
  await c.admin.claim(readOperatorToken(server.dataDir));
  await c.admin.unseal(masterKey()); // inline env is encrypted at rest
}, 120_000);

afterAll(async () => {
  for (const id of created) await c.apps.delete(id).catch(() => {});
  await server?.stop();
  await images?.cleanup();
}, 60_000);

describe('deploy and wait (real engine)', () => {
  let appId: string;
  let deploymentId: string;
  let domain: string;

  it('deploys an image; wait() streams the deployment log and resolves on succeeded', async () => {
    const name = uniq('web');
    const handle = await c.deploy({ name, image, port: 8080, env: { GREETING: 'hi' } });
    created.push(handle.appId);
    ({ appId, deploymentId, domain } = handle);
    expect(handle).toMatchObject({ status: 'queued', domain: `${name}.localhost` });
    expect(handle.url).toBe(`http://${name}.localhost:${server.env.INGRESS_PORT}`);
    expect(handle.webhook).toBeUndefined();
    const lines: DeploymentLogLine[] = [];
    const d = await handle.wait({ timeoutMs: 90_000, onLog: (l) => lines.push(l) });
    expect(d).toMatchObject({ id: deploymentId, appId, status: 'succeeded', error: null });
    expect(lines.map((l) => l.text).join('\n')).toContain('traffic switched');
    const page = await viaIngress(server.env.INGRESS_PORT!, domain);
    expect(page).toEqual({ status: 200, body: 'hello from cynchro\n' });
  }, 120_000);

  it('apps.list / get / find (by name or id)', async () => {
    const apps = await c.apps.list();
    const app = apps.find((a) => a.id === appId)!;
    expect(app).toMatchObject({ kind: 'image', status: 'running', envKeys: ['GREETING'], currentDeploymentId: deploymentId });
    const detail = await c.apps.get(appId);
    expect(detail.webhook).toBeNull();
    expect(detail.deployments[0]).toMatchObject({ id: deploymentId, status: 'succeeded' });
    expect((await c.apps.find(app.name)).id).toBe(appId);
    expect((await c.apps.find(appId)).name).toBe(app.name);
    expect(await c.apps.deployments.list(appId)).toHaveLength(1);
    await expect(c.apps.find('no-such-app')).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
  });

  it('apps.logs snapshot, and apps.logs.stream follows live until break (the socket is closed)', async () => {
    await expect.poll(async () => (await c.apps.logs(appId, { tail: 50 })).lines.map((l) => l.text), { timeout: 10_000 }).toContain('app-started');
    const snap = await c.apps.logs(appId, { tail: 2 });
    expect(snap.lines).toHaveLength(2);
    expect(snap.lines[0]).toMatchObject({ service: 'app', stream: 'stdout' });

    // Track the sockets the SDK opens, to see that `break` closes them.
    const sockets: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const tracked = createClient({ url: server.url, tokens: (await c.auth.tokens())!, WebSocket: Tracked as unknown as WebSocketConstructor });
    const events: LogStreamEvent[] = [];
    const got: string[] = [];
    for await (const line of tracked.apps.logs.stream(appId, { tail: 1, onEvent: (e) => events.push(e) })) {
      got.push(line.text);
      if (got.length === 3) break;
    }
    expect(got.filter((t) => t.startsWith('tick ')).length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ type: 'ready', appId, deploymentId });
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    await expect.poll(() => sockets[0]!.readyState).toBe(WebSocket.CLOSED);
  }, 30_000);

  it('a stream stops at once on its AbortSignal', async () => {
    const ac = new AbortController();
    const got: string[] = [];
    const t = setTimeout(() => ac.abort(), 1500);
    for await (const line of c.apps.logs.stream(appId, { signal: ac.signal })) got.push(line.text);
    clearTimeout(t);
    expect(ac.signal.aborted).toBe(true);
  });

  it('reconnects with a fresh token when the socket refuses an expired one (4401)', async () => {
    const second = await createClient({ url: server.url }).auth.login(me);
    const store = { t: { accessToken: 'garbage.access.token', refreshToken: second.refreshToken } };
    const other = createClient({ url: server.url, store: { load: () => store.t, save: (t) => void (store.t = t!) } });
    const events: LogStreamEvent[] = [];
    for await (const line of other.apps.logs.stream(appId, { onEvent: (e) => events.push(e) })) {
      expect(line.service).toBe('app');
      break;
    }
    expect(events[0]).toMatchObject({ type: 'reconnecting', code: 4401 });
    expect(store.t.accessToken).not.toBe('garbage.access.token');
  }, 30_000);

  it('a dropped connection resumes where it left off: no tick lost, none repeated', async () => {
    // The first socket is cut right after its first line; the second only opens 2.5 s later, so ticks printed
    // meanwhile (one a second) must come from the resume, not from luck.
    let made = 0;
    class Flaky {
      onopen: ((e: unknown) => void) | null = null;
      onmessage: ((e: { data: unknown }) => void) | null = null;
      onerror: ((e: unknown) => void) | null = null;
      onclose: ((e: { code: number; reason: string }) => void) | null = null;
      #ws: WebSocket | undefined;
      #closed = false;
      constructor(url: string) {
        const n = ++made;
        const start = () => {
          if (this.#closed) return;
          const ws = (this.#ws = new WebSocket(url));
          let cut = false;
          ws.onopen = (e) => this.onopen?.(e);
          ws.onerror = (e) => this.onerror?.(e);
          ws.onclose = (e) => this.onclose?.({ code: e.code, reason: String(e.reason) });
          ws.onmessage = (e) => {
            this.onmessage?.({ data: e.data });
            if (n === 1 && !cut && JSON.parse(String(e.data)).type === 'log') {
              cut = true;
              ws.terminate();
            }
          };
        };
        if (n === 1) start();
        else setTimeout(start, 2500);
      }
      close(code?: number, reason?: string) {
        this.#closed = true;
        this.#ws?.close(code, reason);
      }
    }
    const flaky = createClient({ url: server.url, credentials: me, WebSocket: Flaky as unknown as WebSocketConstructor });
    const ticks: number[] = [];
    const events: LogStreamEvent[] = [];
    for await (const line of flaky.apps.logs.stream(appId, { onEvent: (e) => events.push(e) })) {
      const m = /^tick (\d+)$/.exec(line.text);
      if (m) ticks.push(Number(m[1]));
      if (ticks.length >= 6) break;
    }
    expect(made).toBe(2);
    expect(events.some((e) => e.type === 'reconnecting')).toBe(true);
    expect(ticks).toEqual(ticks.map((_, i) => ticks[0]! + i));
  }, 60_000);

  it('deployments.logs snapshot and stream (replayed, then the final status)', async () => {
    const snap = await c.apps.deployments.logs(appId, deploymentId);
    expect(snap.deployment.status).toBe('succeeded');
    expect(snap.lines.length).toBeGreaterThan(0);
    const msgs = [];
    for await (const m of c.apps.deployments.logs.stream(appId, deploymentId)) msgs.push(m);
    expect(msgs.filter((m) => m.type === 'log')).toHaveLength(snap.lines.length);
    expect(msgs.at(-1)).toMatchObject({ type: 'status', deployment: { id: deploymentId, status: 'succeeded' } });
  });

  it('stop, restart', async () => {
    expect((await c.apps.stop(appId)).status).toBe('stopped');
    expect((await viaIngress(server.env.INGRESS_PORT!, domain)).status).toBe(503);
    expect((await c.apps.restart(appId)).status).toBe('running');
    await expect.poll(async () => (await viaIngress(server.env.INGRESS_PORT!, domain)).status, { timeout: 20_000 }).toBe(200);
  }, 40_000);

  it('wait() falls back to polling when no WebSocket can be opened', async () => {
    const Broken = class {
      readyState = 3;
      onopen = null;
      onmessage = null;
      onerror = null;
      onclose: ((e: { code: number; reason: string }) => void) | null = null;
      constructor() {
        setTimeout(() => this.onclose?.({ code: 1006, reason: '' }), 5);
      }
      close() {}
    } as unknown as WebSocketConstructor;
    const polling = createClient({ url: server.url, tokens: (await c.auth.tokens())!, WebSocket: Broken });
    const h = await polling.deploy({ name: (await c.apps.get(appId)).app.name, image, port: 8080, env: { GREETING: 'again' } });
    const lines: string[] = [];
    const d = await h.wait({ timeoutMs: 90_000, pollIntervalMs: 200, onLog: (l) => lines.push(l.text) });
    expect(d.status).toBe('succeeded');
    expect(lines.join('\n')).toContain('traffic switched');
    expect(h.appId).toBe(appId);
  }, 120_000);

  it('delete: the app is gone, its stream closes with app_not_found', async () => {
    expect(await c.apps.delete(appId)).toEqual({ deleted: true, id: appId });
    await expect(c.apps.get(appId)).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
    const err = await (async () => {
      for await (const _ of c.apps.logs.stream(appId)) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'app_not_found', status: 404 });
  });
});

describe('failures', () => {
  it('wait() rejects with deployment_failed and the deployment error when the image cannot be had', async () => {
    const h = await c.deploy({ name: uniq('broken'), image: `cynchro-test-missing/${uniq('img')}:1`, port: 80 });
    created.push(h.appId);
    const err = (await h.wait({ timeoutMs: 90_000 }).catch((e: unknown) => e)) as CynchroError;
    expect(err).toBeInstanceOf(CynchroError);
    expect(err.code).toBe('deployment_failed');
    expect(err.message).not.toBe('');
    expect(err.details).toMatchObject({ deployment: { id: h.deploymentId, status: 'failed' } });
    expect((await c.apps.deployments.logs(h.appId, h.deploymentId)).deployment.error).toBe(err.message);
  }, 120_000);

  it('wait() rejects with a timeout, and deployments.cancel cancels; wait then says deployment_canceled', async () => {
    // A second deploy of an app whose first deployment is still queued/running: cancel the newest.
    const name = uniq('cancel');
    const h = await c.deploy({ name, image, port: 8080 });
    created.push(h.appId);
    const canceled = await c.apps.deployments.cancel(h.appId, h.deploymentId).catch((e: unknown) => e);
    if (canceled instanceof CynchroError) {
      // It already ended (a fast engine): cancel answers conflict.
      expect(canceled.code).toBe('conflict');
      return;
    }
    await expect(h.wait({ timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'deployment_canceled' });
  }, 60_000);

  it('typed errors: validation details, unknown_secret, app_not_found, deployment_not_found, not logged in', async () => {
    const v = (await c.deploy({ name: 'Bad Name', image, port: 0 }).catch((e: unknown) => e)) as CynchroError;
    expect(v).toMatchObject({ code: 'validation', status: 400 });
    expect(Object.keys(v.fieldErrors).sort()).toEqual(['name', 'port']);
    await expect(c.deploy({ name: uniq('s'), image, envFrom: ['nope'] })).rejects.toMatchObject({ code: 'unknown_secret', status: 404 });
    await expect(c.apps.restart('app_doesnotexist')).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
    await expect(c.apps.rotateWebhook('app_doesnotexist')).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
    await expect(c.apps.rotateWebhook(created.at(-1)!)).rejects.toMatchObject({ code: 'conflict', status: 409 }); // an image app
    await expect(c.apps.logs('app_doesnotexist')).rejects.toMatchObject({ code: 'app_not_found' });
    await expect(c.apps.deployments.logs(created.at(-1)!, 'dep_nope')).rejects.toMatchObject({ code: 'deployment_not_found', status: 404 });
    const anon = createClient({ url: server.url });
    await expect(anon.apps.list()).rejects.toMatchObject({ code: 'missing_bearer_token', status: 401 });
    await expect(anon.apps.logs.stream('x').next()).rejects.toMatchObject({ code: 'missing_bearer_token' });
    const err = await c.apps.logs('x', { tail: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'validation', status: 400 });
  });
});
