// API tokens: created with a user session, then used as a static bearer (`createClient({ apiToken })` or
// CYNCHRO_TOKEN): never refreshed, never a login, `?token=` on the log streams; against a live server and the real
// engine.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, type CynchroClient, type LogStreamEvent, type WebSocketConstructor } from '../src/index.js';
import { email, testImages, uniq, WEB_DOCKERFILE, type TestImages } from './helpers.js';

let server: LiveServer;
let images: TestImages;
let image: string;
let owner: CynchroClient;
const me = { email: email('tok'), password: 'token owner password' };
let appId: string;
let appName: string;

/** A fetch that records each /trpc call (procedure path and Authorization header), then sends it. */
function recordingFetch() {
  const calls: { path: string; authorization: string | null }[] = [];
  const f: typeof fetch = (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init?.headers);
    for (const p of url.pathname.replace(/^\/trpc\//, '').split(',')) calls.push({ path: p, authorization: headers.get('authorization') });
    return fetch(input, init);
  };
  return { calls, fetch: f };
}

beforeAll(async () => {
  images = testImages();
  [server, image] = await Promise.all([startLiveServer(), images.build(WEB_DOCKERFILE)]);
  owner = createClient({ url: server.url });
  await owner.auth.register(me);
  appName = uniq('tok-web');
  const h = await owner.deploy({ name: appName, image, port: 8080 });
  appId = h.appId;
  await h.wait({ timeoutMs: 90_000 });
}, 120_000);

afterAll(async () => {
  await owner?.apps.delete(appId).catch(() => {});
  await server?.stop();
  await images?.cleanup();
}, 60_000);

describe('tokens area', () => {
  it('create answers the secret once (cyn_…); list never shows it; validation of scopes and expiry', async () => {
    const r = await owner.tokens.create({ name: 'ci', scopes: ['deploy', 'read'], appId, expiresInDays: 30 });
    expect(r.secret).toMatch(/^cyn_[A-Za-z0-9_-]{43,}$/);
    expect(r.token).toMatchObject({ name: 'ci', appId, lastUsedAt: null });
    expect([...r.token.scopes].sort()).toEqual(['deploy', 'read']);
    const days = (Date.parse(r.token.expiresAt) - Date.parse(r.token.createdAt)) / 86_400_000;
    expect(Math.round(days)).toBe(30);
    const defaulted = await owner.tokens.create({ name: 'default expiry', scopes: ['read'] });
    expect(Math.round((Date.parse(defaulted.token.expiresAt) - Date.parse(defaulted.token.createdAt)) / 86_400_000)).toBe(90);
    const list = await owner.tokens.list();
    expect(list.map((t) => t.id)).toEqual(expect.arrayContaining([r.token.id, defaulted.token.id]));
    expect(JSON.stringify(list)).not.toContain(r.secret);
    expect(JSON.stringify(list)).not.toContain(r.secret.slice(4, 20));
    await expect(owner.tokens.create({ name: 'x', scopes: [] })).rejects.toMatchObject({ code: 'validation', status: 400 });
    await expect(owner.tokens.create({ name: 'x', scopes: ['root' as never] })).rejects.toMatchObject({ code: 'validation' });
    await expect(owner.tokens.create({ name: 'x', scopes: ['read'], expiresInDays: 366 })).rejects.toMatchObject({ code: 'validation' });
    await expect(owner.tokens.create({ name: 'x', scopes: ['read'], appId: 'app_doesnotexist' })).rejects.toMatchObject({ code: 'app_not_found', status: 404 });
    await owner.tokens.revoke(defaulted.token.id);
    await expect(owner.tokens.revoke(defaulted.token.id)).rejects.toMatchObject({ code: 'token_not_found', status: 404 });
  });
});

describe('createClient({ apiToken })', () => {
  it('sends the token as a static bearer on every call, never logs in; its scope and app bound it', async () => {
    const { secret, token } = await owner.tokens.create({ name: 'app-deployer', scopes: ['deploy', 'read'], appId });
    const rec = recordingFetch();
    const ci = createClient({ url: server.url, apiToken: secret, fetch: rec.fetch });
    expect(await ci.auth.tokens()).toBeNull();
    expect((await ci.apps.get(appId)).app.name).toBe(appName);
    expect((await ci.apps.list()).map((a) => a.id)).toEqual([appId]);
    const h = await ci.deploy({ name: appName, image, port: 8080 });
    expect(h.appId).toBe(appId);
    expect(await h.wait({ timeoutMs: 90_000 })).toMatchObject({ status: 'succeeded' });
    // Another app name, tokens, orgs, auth: refused.
    await expect(ci.deploy({ name: uniq('other'), image, port: 8080 })).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(ci.tokens.list()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(ci.orgs.list()).rejects.toMatchObject({ code: 'forbidden' });
    await expect(ci.auth.me()).rejects.toMatchObject({ code: 'forbidden' });
    expect(rec.calls.length).toBeGreaterThan(4);
    expect(rec.calls.every((c) => c.authorization === `Bearer ${secret}`)).toBe(true);
    expect(rec.calls.some((c) => c.path.startsWith('auth.') && c.path !== 'auth.me')).toBe(false);
    // The owner sees it used.
    expect((await owner.tokens.list()).find((t) => t.id === token.id)?.lastUsedAt).toEqual(expect.any(String));
    const audit = await owner.audit.list({ limit: 50 });
    expect(audit.events.find((e) => e.action === 'deploy' && e.actor.tokenId === token.id && e.outcome === 'ok')).toBeDefined();
    expect(audit.events.find((e) => e.actor.tokenId === token.id && e.outcome === 'denied')).toBeDefined();
  }, 120_000);

  it('a read-only token cannot deploy', async () => {
    const { secret } = await owner.tokens.create({ name: 'reader', scopes: ['read'] });
    const reader = createClient({ url: server.url, apiToken: secret });
    expect((await reader.apps.list()).map((a) => a.id)).toContain(appId);
    await expect(reader.deploy({ name: appName, image, port: 8080 })).rejects.toMatchObject({ code: 'forbidden', status: 403 });
  });

  it('follows the app log stream with ?token=; a revoked token ends it with invalid_or_expired_token, no reconnect', async () => {
    const { secret, token } = await owner.tokens.create({ name: 'logs', scopes: ['read'], appId });
    const urls: string[] = [];
    class Tracked extends WebSocket {
      constructor(url: string) {
        super(url);
        urls.push(url);
      }
    }
    const ci = createClient({ url: server.url, apiToken: secret, WebSocket: Tracked as unknown as WebSocketConstructor });
    const events: LogStreamEvent[] = [];
    const got: string[] = [];
    const err = await (async () => {
      for await (const line of ci.apps.logs.stream(appId, { tail: 5, onEvent: (e) => events.push(e) })) {
        got.push(line.text);
        if (got.length === 2) await owner.tokens.revoke(token.id); // the stream must close now
      }
    })().catch((e: unknown) => e);
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'invalid_or_expired_token', status: 401 });
    expect(events.some((e) => e.type === 'reconnecting')).toBe(false);
    expect(urls).toHaveLength(1);
    expect(new URL(urls[0]!).searchParams.get('token')).toBe(secret);
  }, 60_000);

  it('a refused token is final: one request, no refresh, no login', async () => {
    const { secret, token } = await owner.tokens.create({ name: 'short-lived', scopes: ['read'] });
    await owner.tokens.revoke(token.id);
    const rec = recordingFetch();
    const ci = createClient({ url: server.url, apiToken: secret, fetch: rec.fetch });
    await expect(ci.apps.list()).rejects.toMatchObject({ code: 'invalid_or_expired_token', status: 401 });
    expect(rec.calls.map((c) => c.path)).toEqual(['apps.list']);
    const garbage = createClient({ url: server.url, apiToken: 'cyn_thisisnotatokenthisisnotatokenthisisnotatoken', fetch: rec.fetch });
    await expect(garbage.apps.list()).rejects.toMatchObject({ code: 'invalid_or_expired_token', status: 401 });
    expect(rec.calls.map((c) => c.path)).toEqual(['apps.list', 'apps.list']);
    // The log stream says the same at once.
    await expect(ci.apps.logs.stream(appId).next()).rejects.toMatchObject({ code: 'invalid_or_expired_token', status: 401 });
  });
});

describe('CYNCHRO_TOKEN', () => {
  const saved = process.env.CYNCHRO_TOKEN;
  afterEach(() => {
    if (saved === undefined) delete process.env.CYNCHRO_TOKEN;
    else process.env.CYNCHRO_TOKEN = saved;
  });

  it('is the bearer of a client given no tokens, credentials, store or apiToken', async () => {
    const { secret } = await owner.tokens.create({ name: 'from-env', scopes: ['read'], appId });
    process.env.CYNCHRO_TOKEN = secret;
    const rec = recordingFetch();
    const fromEnv = createClient({ url: server.url, fetch: rec.fetch });
    expect((await fromEnv.apps.get(appId)).app.id).toBe(appId);
    expect(rec.calls).toEqual([{ path: 'apps.get', authorization: `Bearer ${secret}` }]);
    // A log stream too.
    for await (const line of fromEnv.apps.logs.stream(appId, { tail: 1 })) {
      expect(line.service).toBe('app');
      break;
    }
  }, 30_000);

  it('is ignored when the client is given its own credentials or tokens; a login replaces it', async () => {
    const { secret } = await owner.tokens.create({ name: 'ignored', scopes: ['read'], appId });
    process.env.CYNCHRO_TOKEN = secret;
    const withCredentials = createClient({ url: server.url, credentials: me });
    expect((await withCredentials.auth.me()).user.email).toBe(me.email);
    const withTokens = createClient({ url: server.url, tokens: (await owner.auth.tokens())! });
    expect((await withTokens.tokens.list()).length).toBeGreaterThan(0); // an API token could not list tokens
    const loggingIn = createClient({ url: server.url });
    await expect(loggingIn.tokens.list()).rejects.toMatchObject({ code: 'forbidden' }); // acting with CYNCHRO_TOKEN
    await loggingIn.auth.login(me);
    expect((await loggingIn.tokens.list()).length).toBeGreaterThan(0);
    expect(await loggingIn.auth.tokens()).not.toBeNull();
  });

  it('an empty CYNCHRO_TOKEN counts as none', async () => {
    process.env.CYNCHRO_TOKEN = '  ';
    await expect(createClient({ url: server.url }).apps.list()).rejects.toMatchObject({ code: 'missing_bearer_token', status: 401 });
  });
});
