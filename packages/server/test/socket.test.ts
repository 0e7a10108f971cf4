// The same auth flow over a real TCP socket, to catch what inject() cannot (headers, keep-alive, real IPs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { startHarness, uniqueEmail, type Harness } from './harness.js';

let h: Harness;
let base: string;
beforeAll(async () => {
  h = await startHarness();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.close();
});

const post = (path: string, body: unknown, token?: string) =>
  fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

describe('auth over a real socket', () => {
  it('register → login → me → logout → me refused', async () => {
    const email = uniqueEmail('sock');
    const reg = await post('/auth/register', { email, password: 'socket password' });
    expect(reg.status).toBe(200);
    expect(reg.headers.get('content-type')).toMatch(/application\/json/);
    const login = await post('/auth/login', { email, password: 'socket password' });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const me = await fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(email);
    const out = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } });
    expect(out.status).toBe(200);
    const after = await fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ error: 'invalid_or_expired_token', message: expect.any(String) });
  });

  it('healthz answers', async () => {
    const r = await fetch(`${base}/healthz`);
    expect(await r.json()).toEqual({ ok: true });
  });
});
