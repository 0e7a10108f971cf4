import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, uniqueEmail, type Harness } from './harness.js';

let h: Harness;
let ipSeq = 0;
// Each test speaks from its own client IP so the /auth rate limit (30 per 5 min per IP) only bites where tested.
const nextIp = () => `10.0.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

async function call(method: string, url: string, opts: { body?: unknown; token?: string; ip?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await h.app.inject({ method: method as 'GET', url, payload: opts.body as object, headers, remoteAddress: opts.ip ?? nextIp() });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, headers: res.headers };
}

async function register(email = uniqueEmail(), password = 'correct horse battery') {
  const r = await call('POST', '/auth/register', { body: { email, password, name: 'Ada' } });
  expect(r.status).toBe(200);
  return { ...r.body, email, password } as { accessToken: string; refreshToken: string; orgId: string; user: { id: string }; email: string; password: string };
}

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('register', () => {
  it('creates a user, a personal org with the user as owner, and returns tokens', async () => {
    const email = uniqueEmail();
    const r = await call('POST', '/auth/register', { body: { email, password: 'password-123', name: '' } });
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({ email, name: null });
    expect(r.body.accessToken.split('.')).toHaveLength(3);
    expect(r.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const member = await h.deps.db.selectFrom('org_members').selectAll().where('user_id', '=', r.body.user.id).execute();
    expect(member).toEqual([expect.objectContaining({ org_id: r.body.orgId, role: 'owner' })]);
    const me = await call('GET', '/auth/me', { token: r.body.accessToken });
    expect(me.body).toEqual({ user: r.body.user, orgId: r.body.orgId, role: 'owner' });
  });

  it('refuses a duplicate email, whatever its case, with 409 email_taken', async () => {
    const email = uniqueEmail();
    await register(email);
    const r = await call('POST', '/auth/register', { body: { email: email.toUpperCase(), password: 'password-123' } });
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('email_taken');
  });

  it('answers validation errors with fieldErrors keyed by field', async () => {
    const r = await call('POST', '/auth/register', { body: { email: 'not-an-email', password: 'short' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('validation');
    expect(Object.keys(r.body.details.fieldErrors).sort()).toEqual(['email', 'password']);
  });

  it('stores only an Argon2id hash with OWASP parameters', async () => {
    const { user, password } = await register();
    const row = await h.deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.password_hash).not.toContain(password);
  });
});

describe('login', () => {
  it('returns user, tokens and orgId', async () => {
    const u = await register();
    const r = await call('POST', '/auth/login', { body: { email: u.email, password: u.password } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ user: { id: u.user.id }, orgId: u.orgId });
    expect(r.body.refreshToken).not.toBe(u.refreshToken);
  });

  it('answers unknown email and wrong password alike, both after an Argon2 verification', async () => {
    const u = await register();
    const verify = vi.spyOn(h.deps.passwords, 'verify');
    const wrong = await call('POST', '/auth/login', { body: { email: u.email, password: 'wrong password' } });
    const unknown = await call('POST', '/auth/login', { body: { email: uniqueEmail('ghost'), password: 'wrong password' } });
    expect(verify).toHaveBeenCalledTimes(2); // the unknown email is checked against the dummy hash
    verify.mockRestore();
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error).toBe('invalid_credentials');
  });
});

describe('access tokens', () => {
  it('missing, malformed and non-Bearer headers', async () => {
    expect((await call('GET', '/auth/me')).body.error).toBe('missing_bearer_token');
    expect((await call('GET', '/auth/me', { headers: { authorization: 'Basic abc' } })).body.error).toBe('missing_bearer_token');
    const bad = await call('GET', '/auth/me', { token: 'a.b.c' });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_or_expired_token');
  });

  it('refuses alg=none and tampered tokens', async () => {
    const { accessToken } = await register();
    const [, payload] = accessToken.split('.');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    expect((await call('GET', '/auth/me', { token: none })).body.error).toBe('invalid_or_expired_token');
    const forged = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    forged.org = 'org_someone_else';
    const tampered = accessToken.replace(payload!, Buffer.from(JSON.stringify(forged)).toString('base64url'));
    expect((await call('GET', '/auth/me', { token: tampered })).body.error).toBe('invalid_or_expired_token');
  });

  it('expire after 15 minutes', async () => {
    const { accessToken } = await register();
    h.clock.advance(14 * 60 * 1000);
    expect((await call('GET', '/auth/me', { token: accessToken })).status).toBe(200);
    h.clock.advance(2 * 60 * 1000);
    expect((await call('GET', '/auth/me', { token: accessToken })).body.error).toBe('invalid_or_expired_token');
  });
});

describe('refresh', () => {
  it('rotates: new tokens work, and the old refresh token is dead', async () => {
    const u = await register();
    const r = await call('POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
    expect(r.status).toBe(200);
    expect(r.body.refreshToken).not.toBe(u.refreshToken);
    expect((await call('GET', '/auth/me', { token: r.body.accessToken })).status).toBe(200);
    const rows = await h.deps.db.selectFrom('refresh_tokens').select('token_hash').execute();
    expect(rows.some((x) => x.token_hash.includes(u.refreshToken))).toBe(false);
  });

  it('reuse of a rotated token revokes the whole family, access tokens included', async () => {
    const u = await register();
    const first = await call('POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
    const reuse = await call('POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error).toBe('invalid_or_expired_token');
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: first.body.refreshToken } })).status).toBe(401);
    expect((await call('GET', '/auth/me', { token: first.body.accessToken })).status).toBe(401);
    expect((await call('GET', '/auth/me', { token: u.accessToken })).status).toBe(401);
  });

  it('lets exactly one of two concurrent rotations of the same token win', async () => {
    const u = await register();
    const results = await Promise.all([1, 2, 3].map(() => call('POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('refuses unknown and expired refresh tokens', async () => {
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: 'nope' } })).body.error).toBe('invalid_or_expired_token');
    const u = await register();
    h.clock.advance(31 * 24 * 3600 * 1000);
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } })).body.error).toBe('invalid_or_expired_token');
  });
});

describe('logout and change-password', () => {
  it('logout revokes every session of the user at once', async () => {
    const u = await register();
    const other = (await call('POST', '/auth/login', { body: { email: u.email, password: u.password } })).body;
    const r = await call('POST', '/auth/logout', { token: u.accessToken });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
    for (const t of [u.accessToken, other.accessToken]) expect((await call('GET', '/auth/me', { token: t })).status).toBe(401);
    for (const t of [u.refreshToken, other.refreshToken]) expect((await call('POST', '/auth/refresh', { body: { refreshToken: t } })).status).toBe(401);
  });

  it('change-password checks the current password, keeps this session and revokes the others', async () => {
    const u = await register();
    const other = (await call('POST', '/auth/login', { body: { email: u.email, password: u.password } })).body;
    const wrong = await call('POST', '/auth/change-password', { token: u.accessToken, body: { currentPassword: 'nope-nope', newPassword: 'new password 1' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_credentials');
    const ok = await call('POST', '/auth/change-password', { token: u.accessToken, body: { currentPassword: u.password, newPassword: 'new password 1' } });
    expect(ok.status).toBe(200);
    expect((await call('GET', '/auth/me', { token: u.accessToken })).status).toBe(200);
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } })).status).toBe(200);
    expect((await call('GET', '/auth/me', { token: other.accessToken })).status).toBe(401);
    expect((await call('POST', '/auth/login', { body: { email: u.email, password: u.password } })).status).toBe(401);
    expect((await call('POST', '/auth/login', { body: { email: u.email, password: 'new password 1' } })).status).toBe(200);
  });
});

describe('rate limit', () => {
  it('allows 30 /auth requests per 5 minutes per IP, then answers 429 with Retry-After', async () => {
    const ip = '192.0.2.77';
    // Distinct emails: one email's failures meet the per-email back-off first (auth-limits.test.ts).
    for (let i = 0; i < 30; i++) expect((await call('POST', '/auth/login', { ip, body: { email: `x${i}@example.com`, password: 'whatever' } })).status).toBe(401);
    const limited = await call('GET', '/auth/me', { ip });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(300);
    // the same limit on the tRPC transport, and another IP is unaffected
    expect((await call('GET', '/trpc/auth.me', { ip })).status).toBe(429);
    expect((await call('GET', '/auth/me', { ip: '192.0.2.78' })).status).toBe(401);
    // routes outside /auth are not limited
    expect((await call('GET', '/healthz', { ip })).status).toBe(200);
    h.clock.advance(5 * 60 * 1000 + 1000);
    expect((await call('GET', '/auth/me', { ip })).status).toBe(401);
  });
});

describe('error shape', () => {
  it('malformed JSON, unknown routes and wrong content types answer { error, message }', async () => {
    const bad = await call('POST', '/auth/login', { body: '{"email":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('validation');
    const nf = await call('GET', '/no/such/route');
    expect(nf.status).toBe(404);
    expect(nf.body).toEqual({ error: 'not_found', message: expect.any(String) });
    const media = await call('POST', '/auth/login', { body: 'email=x', headers: { 'content-type': 'text/plain' } });
    expect(media.status).toBe(415);
    expect(media.body.error).toBe('unsupported_media_type');
  });

  it('the tRPC transport carries the same code and status', async () => {
    const r = await call('GET', '/trpc/auth.me');
    expect(r.status).toBe(401);
    expect(r.body.error.json.data.appError).toEqual({ error: 'missing_bearer_token', message: expect.any(String) });
  });

  it('unexpected failures answer internal without a stack or the cause', async () => {
    const u = await register();
    const spy = vi.spyOn(h.services.auth, 'me').mockRejectedValueOnce(new Error('SQLITE_CORRUPT: secret detail at /data/x.db'));
    const r = await call('GET', '/auth/me', { token: u.accessToken });
    spy.mockRestore();
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: 'internal', message: 'Internal server error' });
    const t = await call('GET', '/trpc/auth.me', { token: u.accessToken, headers: {} });
    expect(t.status).toBe(200);
  });
});
