// A session's absolute lifetime (refreshing never extends it past 30 days from login), housekeeping of expired
// sessions and refresh tokens, and DATA_DIR's permissions at every start.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { client } from './vault-helpers.js';

const DAY = 24 * 3600 * 1000;
let h: Harness;
const { call, register } = client(() => h);

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function fullRegister() {
  const u = await register();
  const login = await call('POST', '/auth/login', { body: { email: u.email, password: 'correct horse battery' } });
  return login.body as { accessToken: string; refreshToken: string };
}

describe('absolute session lifetime', () => {
  it('refreshing keeps a session alive only until 30 days after login', async () => {
    let t = await fullRegister();
    // Refresh every 10 days: each rotation works while the session is younger than 30 days…
    for (let day = 10; day <= 20; day += 10) {
      h.clock.advance(10 * DAY);
      const r = await call('POST', '/auth/refresh', { body: { refreshToken: t.refreshToken } });
      expect(r.status, `day ${day}`).toBe(200);
      t = r.body;
    }
    h.clock.advance(9 * DAY); // day 29: still alive
    const r29 = await call('POST', '/auth/refresh', { body: { refreshToken: t.refreshToken } });
    expect(r29.status).toBe(200);
    t = r29.body;
    // Ten minutes before the end, one more rotation works…
    h.clock.advance(DAY - 10 * 60_000);
    const rLast = await call('POST', '/auth/refresh', { body: { refreshToken: t.refreshToken } });
    expect(rLast.status).toBe(200);
    t = rLast.body;
    expect((await call('GET', '/auth/me', { token: t.accessToken })).status).toBe(200);
    // …but past day 30 the session is over: its 11-minute-old access token (valid 15) and its refresh token die.
    h.clock.advance(11 * 60_000);
    expect((await call('GET', '/auth/me', { token: t.accessToken })).status).toBe(401);
    const r31 = await call('POST', '/auth/refresh', { body: { refreshToken: t.refreshToken } });
    expect(r31.status).toBe(401);
    expect(r31.body.error).toBe('invalid_or_expired_token');
  });

  it('refresh tokens expire with their session, not 30 days after their own creation', async () => {
    const t = await fullRegister();
    h.clock.advance(20 * DAY);
    const r = await call('POST', '/auth/refresh', { body: { refreshToken: t.refreshToken } });
    const row = await h.deps.db.selectFrom('refresh_tokens').innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id').select(['refresh_tokens.expires_at', 'sessions.expires_at as session_expires_at', 'sessions.created_at']).orderBy('refresh_tokens.created_at', 'desc').executeTakeFirstOrThrow();
    expect(r.status).toBe(200);
    expect(row.expires_at).toBe(row.session_expires_at);
    expect(Date.parse(row.session_expires_at) - Date.parse(row.created_at)).toBe(30 * DAY);
  });
});

describe('housekeeping', () => {
  it('prunes expired sessions and refresh tokens and old revoked sessions, keeps live ones', async () => {
    const old = await fullRegister();
    const revoked = await fullRegister();
    await call('POST', '/auth/logout', { token: revoked.accessToken });
    h.clock.advance(8 * DAY);
    const live = await fullRegister();
    h.clock.advance(23 * DAY); // `old` is 31 days old; `live` 23
    const before = await h.deps.db.selectFrom('sessions').select('id').execute();
    const r = await h.services.maintenance.pruneSessions();
    expect(r.sessions).toBeGreaterThanOrEqual(2);
    const after = await h.deps.db.selectFrom('sessions').select(['id', 'created_at', 'revoked_at']).execute();
    expect(after.length).toBeLessThan(before.length);
    const now = h.clock.now().getTime();
    for (const s of after) {
      expect(now - Date.parse(s.created_at)).toBeLessThan(30 * DAY);
      if (s.revoked_at) expect(now - Date.parse(s.revoked_at)).toBeLessThan(7 * DAY);
    }
    const expiredTokens = await h.deps.db.selectFrom('refresh_tokens').select('id').where('expires_at', '<=', h.clock.now().toISOString()).execute();
    expect(expiredTokens).toEqual([]);
    expect((await call('GET', '/auth/me', { token: live.accessToken })).status).toBe(401); // its access token expired…
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: live.refreshToken } })).status).toBe(200); // …the session lives
    expect((await call('POST', '/auth/refresh', { body: { refreshToken: old.refreshToken } })).status).toBe(401);
  });
});

describe('DATA_DIR permissions', () => {
  it('are 0700 for the directory and 0600 for the database and key files at every start, narrowed if wider', async () => {
    const dataDir = h.dataDir;
    const files = ['cynchro.db', 'cynchro.db-wal', 'cynchro.db-shm', 'jwt-hs256.key', 'operator-token'].map((f) => path.join(dataDir, f));
    const check = () => {
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      for (const f of files) if (fs.existsSync(f)) expect(fs.statSync(f).mode & 0o777, f).toBe(0o600);
    };
    check();
    expect(fs.existsSync(files[0]!)).toBe(true);
    await h.close();
    fs.chmodSync(dataDir, 0o755);
    for (const f of files) if (fs.existsSync(f)) fs.chmodSync(f, 0o644);
    h = await startHarness({}, { dataDir });
    check();
  });
});
