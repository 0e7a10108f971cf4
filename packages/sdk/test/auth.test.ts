// The SDK against a live server process, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, MemoryTokenStore } from '../src/index.js';

let server: LiveServer;
let n = 0;
const email = () => `sdk-${process.pid}-${Date.now()}-${++n}@example.com`;

beforeAll(async () => {
  server = await startLiveServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('@cynchro/sdk auth', () => {
  it('register, me, logout; then calls fail with a typed CynchroError', async () => {
    const c = createClient({ url: server.url });
    const e = email();
    const reg = await c.auth.register({ email: e, password: 'sdk password 1', name: 'Sid' });
    expect(reg.user.email).toBe(e);
    const me = await c.auth.me();
    expect(me).toEqual({ user: reg.user, orgId: reg.orgId, role: 'owner' });
    await c.auth.logout();
    const err = await c.auth.me().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'missing_bearer_token', status: 401 });
  });

  it('surfaces validation details and invalid_credentials', async () => {
    const c = createClient({ url: server.url });
    const v = (await c.auth.register({ email: 'nope', password: 'x' }).catch((x: unknown) => x)) as CynchroError;
    expect(v.code).toBe('validation');
    expect(v.status).toBe(400);
    expect(Object.keys(v.fieldErrors).sort()).toEqual(['email', 'password']);
    const bad = (await c.auth.login({ email: email(), password: 'wrong pass' }).catch((x: unknown) => x)) as CynchroError;
    expect(bad).toMatchObject({ code: 'invalid_credentials', status: 401 });
  });

  it('logs in lazily from credentials', async () => {
    const e = email();
    await createClient({ url: server.url }).auth.register({ email: e, password: 'lazy password' });
    const c = createClient({ url: server.url, credentials: { email: e, password: 'lazy password' } });
    expect((await c.auth.me()).user.email).toBe(e);
  });

  it('refreshes transparently when the access token is refused, and retries the call', async () => {
    const e = email();
    const first = createClient({ url: server.url });
    const reg = await first.auth.register({ email: e, password: 'refresh password' });
    const store = new MemoryTokenStore({ accessToken: 'expired.or.garbage', refreshToken: reg.refreshToken });
    const c = createClient({ url: server.url, store });
    const [a, b] = await Promise.all([c.auth.me(), c.auth.me()]); // one refresh serves both
    expect(a.user.email).toBe(e);
    expect(b.user.email).toBe(e);
    const saved = store.load()!;
    expect(saved.refreshToken).not.toBe(reg.refreshToken);
    expect(saved.accessToken).not.toBe('expired.or.garbage');
  });

  it('gives up with invalid_or_expired_token when the refresh token is dead too', async () => {
    const c = createClient({ url: server.url, tokens: { accessToken: 'x.y.z', refreshToken: 'dead' } });
    const err = (await c.auth.me().catch((x: unknown) => x)) as CynchroError;
    expect(err).toBeInstanceOf(CynchroError);
    expect(err.code).toBe('invalid_or_expired_token');
    expect(await c.auth.tokens()).toBeNull();
  });
});
