// Log streams never outlive their session: revoking it (logout, change-password, refresh-token reuse) or its end
// closes them at once with 4401; a user holds at most 20 open streams (then 4429); the `token` query parameter
// never reaches a log. Real WebSockets against a listening server, apps on the fake engine.
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STREAMS_PER_USER } from '../src/modules/apps/log-stream.routes.js';
import { startHarness, uniqueEmail, type Harness } from './harness.js';
import { client, type TestUser } from './vault-helpers.js';
import { until } from './wait.js';

let h: Harness;
let base: string;
const logLines: string[] = [];
const { call, register } = client(() => h);
let n = 0;

beforeAll(async () => {
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }));
  h = await startHarness({ QUOTA_MAX_APPS: '100' }, { log });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `ws://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.close();
});

interface Stream {
  ws: WebSocket;
  messages: any[];
  closed: { code: number; reason: string } | null;
}

function open(url: string): Promise<Stream> {
  const s: Stream = { ws: new WebSocket(url), messages: [], closed: null };
  s.ws.on('message', (m) => s.messages.push(JSON.parse(String(m))));
  s.ws.on('close', (code, reason) => (s.closed = { code, reason: String(reason) }));
  s.ws.on('error', () => {});
  return until('the stream to be ready or closed', () => (s.messages.some((m) => m.type === 'ready') || s.closed ? s : undefined));
}

async function appOf(user: TestUser): Promise<string> {
  const r = await call('POST', '/deploy', { token: user.accessToken, body: { name: `ls-${++n}-${process.pid % 1000}`, image: 'acme/web:1', port: 8080 } });
  expect(r.status, r.raw).toBe(202);
  return r.body.appId as string;
}

const stream = (appId: string, token: string) => open(`${base}/apps/${appId}/logs/stream?token=${encodeURIComponent(token)}`);

async function secondSession(user: TestUser) {
  const r = await call('POST', '/auth/login', { body: { email: user.email, password: 'correct horse battery' } });
  expect(r.status).toBe(200);
  return r.body as { accessToken: string; refreshToken: string };
}

describe('a revoked session closes its streams at once with 4401', () => {
  it('logout closes every stream of the user', async () => {
    const u = await register();
    const appId = await appOf(u);
    const other = await secondSession(u);
    const a = await stream(appId, u.accessToken);
    const b = await stream(appId, other.accessToken);
    expect(a.closed).toBeNull();
    expect((await call('POST', '/auth/logout', { token: u.accessToken })).status).toBe(200);
    await until('both streams to close', () => a.closed && b.closed);
    expect(a.closed).toEqual({ code: 4401, reason: 'invalid_or_expired_token' });
    expect(b.closed!.code).toBe(4401);
  });

  it("change-password closes the other sessions' streams and keeps this session's", async () => {
    const u = await register();
    const appId = await appOf(u);
    const other = await secondSession(u);
    const mine = await stream(appId, u.accessToken);
    const theirs = await stream(appId, other.accessToken);
    const r = await call('POST', '/auth/change-password', { token: u.accessToken, body: { currentPassword: 'correct horse battery', newPassword: 'a new password 1' } });
    expect(r.status).toBe(200);
    await until('the other session’s stream to close', () => theirs.closed);
    expect(theirs.closed!.code).toBe(4401);
    expect(mine.closed).toBeNull();
    mine.ws.close();
  });

  it('refresh-token reuse closes that session’s streams only', async () => {
    const u = await register();
    const appId = await appOf(u);
    const other = await secondSession(u);
    const keep = await stream(appId, u.accessToken);
    const victim = await stream(appId, other.accessToken);
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: other.refreshToken } })).status).toBe(200);
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: other.refreshToken } })).status).toBe(401); // reuse
    await until('the reused session’s stream to close', () => victim.closed);
    expect(victim.closed!.code).toBe(4401);
    expect(keep.closed).toBeNull();
    keep.ws.close();
  });

  it('the deployment log stream is closed too', async () => {
    // A server whose worker never starts: the deployment stays queued, so its stream stays open until revoked.
    const idle = await startHarness({}, { start: false });
    try {
      await idle.app.listen({ port: 0, host: '127.0.0.1' });
      const url = `ws://127.0.0.1:${(idle.app.server.address() as AddressInfo).port}`;
      const reg = await idle.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail('dls'), password: 'correct horse battery' } });
      const token = reg.json().accessToken as string;
      const d = await idle.app.inject({ method: 'POST', url: '/deploy', payload: { name: 'queued-app', image: 'acme/web:1' }, headers: { authorization: `Bearer ${token}` } });
      expect(d.statusCode).toBe(202);
      const ws = new WebSocket(`${url}/apps/${d.json().appId}/deployments/${d.json().deploymentId}/logs/stream?token=${token}`);
      let closed: { code: number; reason: string } | null = null;
      ws.on('close', (code, reason) => (closed = { code, reason: String(reason) }));
      ws.on('error', () => {});
      await until('the stream to open', () => ws.readyState === WebSocket.OPEN);
      expect((await idle.app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      await until('the stream to close', () => closed);
      expect(closed).toEqual({ code: 4401, reason: 'invalid_or_expired_token' });
    } finally {
      await idle.close();
    }
  });

  it("a stream closes when its session's 30 days are over", async () => {
    const u = await register();
    const appId = await appOf(u);
    const login = await secondSession(u);
    // Just before the end, a refreshed access token is still good for a stream…
    h.clock.advance(30 * 24 * 3600 * 1000 - 3_000);
    try {
      const fresh = await call('POST', '/auth/refresh', { body: { refreshToken: login.refreshToken } });
      expect(fresh.status).toBe(200);
      const s = await stream(appId, fresh.body.accessToken);
      expect(s.closed).toBeNull();
      // …which closes (4401) when the session ends, three seconds later.
      await until('the stream to close at the session end', () => s.closed, { timeoutMs: 10_000 });
      expect(s.closed!.code).toBe(4401);
    } finally {
      h.clock.advance(-(30 * 24 * 3600 * 1000 - 3_000));
    }
  });
});

describe('streams per user', () => {
  it(`at most ${MAX_STREAMS_PER_USER} at once (then 4429 rate_limited); a closed one frees its slot; others are unaffected`, async () => {
    const u = await register();
    const appId = await appOf(u);
    const streams: Stream[] = [];
    for (let i = 0; i < MAX_STREAMS_PER_USER; i++) streams.push(await stream(appId, u.accessToken));
    expect(streams.every((s) => s.closed === null)).toBe(true);
    const extra = await stream(appId, u.accessToken);
    await until('the extra stream to close', () => extra.closed);
    expect(extra.closed).toEqual({ code: 4429, reason: 'rate_limited' });
    // Another session of the same user counts against the same cap.
    const other = await secondSession(u);
    const viaOther = await stream(appId, other.accessToken);
    await until('the other session’s extra stream to close', () => viaOther.closed);
    expect(viaOther.closed!.code).toBe(4429);
    // Another user is unaffected.
    const v = await register();
    const vs = await stream(await appOf(v), v.accessToken);
    expect(vs.closed).toBeNull();
    // Closing one frees a slot.
    streams[0]!.ws.close();
    await until('the first stream to close', () => streams[0]!.closed);
    const again = await until('a new stream to be admitted', async () => {
      const s = await stream(appId, u.accessToken);
      return s.closed ? undefined : s;
    });
    expect(again.closed).toBeNull();
    for (const s of [...streams, again, vs]) s.ws.close();
  });
});

describe('logs', () => {
  it('never contain the token query parameter', async () => {
    const u = await register(uniqueEmail('redact'));
    const appId = await appOf(u);
    const s = await stream(appId, u.accessToken);
    s.ws.close();
    await until('the stream request to be logged', () => logLines.some((l) => l.includes(`/apps/${appId}/logs/stream`)));
    const all = logLines.join('');
    expect(all).not.toContain(u.accessToken);
    expect(all).toContain(`/apps/${appId}/logs/stream?token=[REDACTED]`);
  });
});
