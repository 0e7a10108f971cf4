// The /auth rate limit lives inside the procedures: no spelling of the path, no request-target form and no tRPC
// batch gets more password verifications than the limit allows. Over a real socket, since odd request targets
// (absolute-form, dot segments) never survive a client library.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, uniqueEmail, type Harness } from './harness.js';

let h: Harness;
let port: number;
let ipSeq = 0;
const nextIp = () => `10.7.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

beforeAll(async () => {
  h = await startHarness({ TRUST_PROXY: '127.0.0.1' });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  port = (h.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** One request as raw bytes on a fresh connection; the answer parsed by hand (Connection: close). */
function raw(request: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    c.on('data', (d) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head!.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      let bodyText = rest.join('\r\n\r\n');
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) bodyText = dechunk(bodyText);
      let body: unknown = bodyText;
      try {
        body = JSON.parse(bodyText);
      } catch {
        /* not JSON */
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body });
    });
    c.write(request);
  });
}

function dechunk(s: string): string {
  let out = '';
  for (let i = 0; ; ) {
    const eol = s.indexOf('\r\n', i);
    const size = parseInt(s.slice(i, eol), 16);
    if (!size) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

/** A POST with a JSON body, from `ip` (X-Forwarded-For, believed because the harness trusts 127.0.0.1). */
function post(target: string, body: unknown, ip: string, extra = ''): Promise<RawReply> {
  const json = JSON.stringify(body);
  return raw(`POST ${target} HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: ${ip}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n${extra}\r\n${json}`);
}

/** A failed login for a fresh address each time (one address's own back-off is tested on its own below). */
const creds = (i: number) => ({ email: uniqueEmail(`limit-${i}`), password: 'wrong password' });

describe('odd request targets never reach a procedure', () => {
  it('case variants and a trailing slash are 404 not_found; dot segments, backslashes, absolute-form and asterisk-form are 400 bad_request', async () => {
    const verify = vi.spyOn(h.deps.passwords, 'verify');
    const dummy = vi.spyOn(h.deps.passwords, 'verifyDummy');
    const ip = nextIp();
    const cases: [string, number, string][] = [
      ['/AUTH/login', 404, 'not_found'],
      ['/Auth/Login', 404, 'not_found'],
      ['/auth/login/', 404, 'not_found'],
      ['/x/../auth/login', 400, 'bad_request'],
      ['/x/%2e%2e/auth/login', 400, 'bad_request'],
      ['/x/%2E./auth/login', 400, 'bad_request'],
      ['/./auth/login', 400, 'bad_request'],
      ['/x\\..\\auth\\login', 400, 'bad_request'],
      ['http://localhost/auth/login', 400, 'bad_request'],
      ['HTTP://LOCALHOST/AUTH/LOGIN', 400, 'bad_request'],
      ['/trpc/../auth/login', 400, 'bad_request'],
    ];
    for (const [target, status, code] of cases) {
      const r = await post(target, creds(0), ip);
      expect(r.status, target).toBe(status);
      expect(r.body, target).toEqual({ error: code, message: expect.any(String) });
    }
    const star = await raw('OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(star.status).toBe(400);
    expect(star.body.error).toBe('bad_request');
    expect(verify).not.toHaveBeenCalled();
    expect(dummy).not.toHaveBeenCalled();
    // The canonical path still works, from the same client.
    expect((await post('/auth/login', creds(0), ip)).status).toBe(401);
  });
});

describe('the limit inside the procedures', () => {
  it('REST and /trpc share one budget per client: 30 calls, then 429 with Retry-After, without verifying', async () => {
    const ip = nextIp();
    for (let i = 0; i < 15; i++) expect((await post('/auth/login', creds(i), ip)).status).toBe(401);
    for (let i = 15; i < 30; i++) expect((await post('/trpc/auth.login', { json: creds(i) }, ip)).status).toBe(401);
    const verify = vi.spyOn(h.deps.passwords, 'verifyDummy');
    const rest = await post('/auth/login', creds(99), ip);
    expect(rest.status).toBe(429);
    expect(rest.body).toEqual({ error: 'rate_limited', message: expect.any(String), retryAfter: expect.any(Number) });
    expect(Number(rest.headers['retry-after'])).toBeGreaterThan(0);
    const trpc = await post('/trpc/auth.login', { json: creds(99) }, ip);
    expect(trpc.status).toBe(429);
    expect(trpc.body.error.json.data.appError.error).toBe('rate_limited');
    expect(Number(trpc.headers['retry-after'])).toBeGreaterThan(0);
    expect(verify).not.toHaveBeenCalled();
    // Another client is unaffected.
    expect((await post('/auth/login', creds(0), nextIp())).status).toBe(401);
  });

  it('a tRPC batch of rate-limited calls runs none of them (each answers bad_request)', async () => {
    const verify = vi.spyOn(h.deps.passwords, 'verifyDummy');
    const n = 40;
    const paths = Array.from({ length: n }, () => 'auth.login').join(',');
    const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), { json: creds(i) }]));
    // 40 calls exceed the batch cap (20): refused whole. Under the cap, each limited call is refused.
    const r = await post(`/trpc/${paths}?batch=1`, input, nextIp());
    expect(r.status).toBe(400);
    expect(r.body.error.json.message).toMatch(/batch/i);
    const small = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [String(i), { json: creds(i) }]));
    const r5 = await post(`/trpc/${Array(5).fill('auth.login').join(',')}?batch=1`, small, nextIp());
    expect(r5.body).toHaveLength(5);
    for (const item of r5.body) expect(item.error.json.data.appError.error).toBe('bad_request');
    expect(verify).not.toHaveBeenCalled();
  });

  it('batches are capped at 20 calls; unlimited procedures still batch', async () => {
    const u = await register();
    const call = (n: number) =>
      raw(`GET /trpc/${Array(n).fill('apps.list').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify({}))} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${u}\r\nConnection: close\r\n\r\n`);
    const ok = await call(3);
    expect(ok.status).toBe(200);
    expect(ok.body).toHaveLength(3);
    const tooMany = await call(21);
    expect(tooMany.status).toBe(400);
  });

  it('IPv6 clients are limited by their /64', async () => {
    for (let i = 0; i < 30; i++) {
      const r = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(i), remoteAddress: `2001:db8:77:1::${(i + 1).toString(16)}` });
      expect(r.statusCode).toBe(401);
    }
    const same64 = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(0), remoteAddress: '2001:db8:77:1:ffff:ffff:ffff:ffff' });
    expect(same64.statusCode).toBe(429);
    const other64 = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(0), remoteAddress: '2001:db8:77:2::1' });
    expect(other64.statusCode).toBe(401);
  });

  it('keeps TRUST_PROXY semantics: X-Forwarded-For counts only from a trusted proxy', async () => {
    // From an untrusted peer the header is ignored: all of these are one client, the peer itself.
    const peer = '198.51.100.9';
    for (let i = 0; i < 30; i++) {
      const r = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(i), remoteAddress: peer, headers: { 'x-forwarded-for': `203.0.113.${i}` } });
      expect(r.statusCode).toBe(401);
    }
    const spoofed = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(0), remoteAddress: peer, headers: { 'x-forwarded-for': '203.0.113.200' } });
    expect(spoofed.statusCode).toBe(429);
    // Through the trusted proxy (127.0.0.1), each forwarded client has its own budget.
    const viaProxy = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(0), remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': peer } });
    expect(viaProxy.statusCode).toBe(429);
    const otherClient = await h.app.inject({ method: 'POST', url: '/auth/login', payload: creds(0), remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.201' } });
    expect(otherClient.statusCode).toBe(401);
  });
});

async function register(): Promise<string> {
  const r = await h.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail('lim'), password: 'correct horse battery' }, remoteAddress: nextIp() });
  expect(r.statusCode).toBe(200);
  return r.json().accessToken as string;
}

describe('per-email back-off of failed logins', () => {
  const login = (email: string, password: string) => h.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: nextIp() });

  it('after 5 failures from anywhere, the email answers 429 with a doubling Retry-After, even with the right password', async () => {
    const email = uniqueEmail('backoff');
    const reg = await h.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: 'correct horse battery' }, remoteAddress: nextIp() });
    expect(reg.statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login(email, `wrong ${i}`)).statusCode).toBe(401);
    const verify = vi.spyOn(h.deps.passwords, 'verify');
    const blocked = await login(email, 'correct horse battery');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ error: 'rate_limited' });
    const wait1 = Number(blocked.headers['retry-after']);
    expect(wait1).toBeGreaterThanOrEqual(1);
    expect(verify).not.toHaveBeenCalled();
    h.clock.advance(wait1 * 1000);
    expect((await login(email, 'wrong again')).statusCode).toBe(401);
    const wait2 = Number((await login(email, 'correct horse battery')).headers['retry-after']);
    expect(wait2).toBe(wait1 * 2);
    h.clock.advance(wait2 * 1000);
    // The right password, once allowed, works and starts the address over.
    expect((await login(email, 'correct horse battery')).statusCode).toBe(200);
    expect((await login(email, 'wrong')).statusCode).toBe(401);
    expect((await login(email, 'correct horse battery')).statusCode).toBe(200);
  });

  it('answers an unknown email exactly like a known one (the 429 reveals nothing)', async () => {
    const known = uniqueEmail('known');
    expect((await h.app.inject({ method: 'POST', url: '/auth/register', payload: { email: known, password: 'correct horse battery' }, remoteAddress: nextIp() })).statusCode).toBe(200);
    const ghost = uniqueEmail('ghost');
    const seen = async (email: string) => {
      const out: [number, unknown, string | undefined][] = [];
      for (let i = 0; i < 7; i++) {
        const r = await login(email, 'not the password');
        out.push([r.statusCode, r.json(), r.headers['retry-after'] as string | undefined]);
      }
      return out;
    };
    const a = await seen(known);
    const b = await seen(ghost);
    expect(a).toEqual(b);
    expect(a.map(([s]) => s)).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });
});
