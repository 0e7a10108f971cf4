// CONTRACT.md "Operators": being in ADMIN_EMAILS is not enough; the account must prove control of the host with the
// operator token from DATA_DIR/operator-token. And ALLOW_REGISTRATION.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, uniqueEmail, type Harness } from './harness.js';
import { client, newMasterKey } from './vault-helpers.js';
import { until } from './wait.js';

let h: Harness | undefined;
const { call, register, login, operatorToken, claim } = client(() => h!);
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function memoryLog() {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  return { log, text: () => lines.join('') };
}

describe('the operator token', () => {
  it('is written once at first start: random, mode 0600, its path logged but never the token', async () => {
    const logs = memoryLog();
    h = await startHarness({ ADMIN_EMAILS: 'op@example.com' }, { log: logs.log });
    const file = path.join(h.dataDir, 'operator-token');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const token = operatorToken();
    // 256 bits in hex: nothing a command line reads as an option (a leading '-') or has to quote.
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    await until('the path to be logged', () => logs.text().includes(file));
    expect(logs.text()).not.toContain(token);
    const dataDir = h.dataDir;
    await h.close();
    // A restart keeps it (and narrows a mode someone widened).
    fs.chmodSync(file, 0o644);
    h = await startHarness({ ADMIN_EMAILS: 'op@example.com' }, { dataDir });
    expect(operatorToken()).toBe(token);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // Another server has another token.
    const other = await startHarness();
    try {
      expect(fs.readFileSync(path.join(other.dataDir, 'operator-token'), 'utf8').trim()).not.toBe(token);
    } finally {
      await other.close();
    }
  });
});

describe('POST /admin/claim', () => {
  const email = () => uniqueEmail('op');

  it('an ADMIN_EMAILS account is no operator until it claims with the token; then every /admin route opens', async () => {
    const opEmail = email();
    h = await startHarness({ ADMIN_EMAILS: `x@example.com, ${opEmail.toUpperCase()}` });
    const op = await register(opEmail);
    // The first registrant on the list no longer becomes an operator by registering.
    for (const [method, url, body] of [
      ['GET', '/admin/seal-status', undefined],
      ['POST', '/admin/unseal', { key: newMasterKey() }],
      ['POST', '/admin/seal', undefined],
      ['POST', '/admin/rotate-data-key', undefined],
      ['POST', '/admin/reencrypt', undefined],
    ] as const) {
      const r = await call(method, url, { token: op.accessToken, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ error: 'forbidden', message: expect.stringContaining('claim') });
    }
    expect(h.deps.vault.sealed).toBe(true);
    expect(await h.deps.db.selectFrom('vault_keyring').selectAll().execute()).toEqual([]);

    const wrong = await claim(op, 'not-the-token-' + 'x'.repeat(30));
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe('forbidden');
    expect((await call('GET', '/admin/seal-status', { token: op.accessToken })).status).toBe(403);

    const ok = await claim(op);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ operator: true });
    expect((await call('GET', '/admin/seal-status', { token: op.accessToken })).body).toEqual({ sealed: true });
    expect((await call('POST', '/admin/unseal', { token: op.accessToken, body: { key: newMasterKey() } })).body.outcome).toBe('initialized');
    // Claiming again is harmless; the claim holds for the account's other sessions.
    expect((await claim(op)).status).toBe(200);
    const again = await login(opEmail);
    expect((await call('GET', '/admin/seal-status', { token: again.accessToken })).status).toBe(200);

    const rows = await h.deps.db.selectFrom('audit_log').select(['action', 'outcome', 'detail', 'user_id']).where('action', '=', 'operator.claim').orderBy('id').execute();
    expect(rows.map((r) => [r.outcome, r.detail])).toEqual([
      ['denied', 'wrong_token'],
      ['ok', null],
      ['ok', null],
    ]);
    expect(JSON.stringify(rows)).not.toContain(operatorToken());
  });

  it('anyone not on the list gets 403 forbidden, even with the right token; no token, 401', async () => {
    h = await startHarness({ ADMIN_EMAILS: 'someone@example.com' });
    const user = await register();
    const r = await claim(user);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('forbidden');
    expect((await call('GET', '/admin/seal-status', { token: user.accessToken })).status).toBe(403);
    expect(await h.deps.db.selectFrom('operators').selectAll().execute()).toEqual([]);
    const anon = await call('POST', '/admin/claim', { body: { token: operatorToken() } });
    expect(anon.status).toBe(401);
    const empty = await call('POST', '/admin/claim', { token: user.accessToken, body: { token: '' } });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toBe('validation');
  });

  it('removing an address from ADMIN_EMAILS removes the rights at the next start; listing it again needs a new claim', async () => {
    const opEmail = email();
    h = await startHarness({ ADMIN_EMAILS: opEmail });
    const dataDir = h.dataDir;
    const op = await register(opEmail);
    expect((await claim(op)).status).toBe(200);
    await h.close();

    h = await startHarness({ ADMIN_EMAILS: 'someone-else@example.com' }, { dataDir });
    const a = await login(opEmail);
    expect((await call('GET', '/admin/seal-status', { token: a.accessToken })).status).toBe(403);
    await h.services.auth.operators.ready;
    expect(await h.deps.db.selectFrom('operators').selectAll().execute()).toEqual([]);
    await h.close();

    h = await startHarness({ ADMIN_EMAILS: opEmail }, { dataDir });
    const b = await login(opEmail);
    expect((await call('GET', '/admin/seal-status', { token: b.accessToken })).status).toBe(403);
    expect((await claim(b)).status).toBe(200);
    expect((await call('GET', '/admin/seal-status', { token: b.accessToken })).status).toBe(200);
  });

  it('is documented in /openapi.json', async () => {
    h = await startHarness();
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    const op = doc.paths['/admin/claim'].post;
    expect(op.responses['200']).toBeDefined();
    expect(op.responses['403'].description).toContain('`forbidden`');
    expect(op.responses['429'].description).toContain('`rate_limited`');
  });
});

describe('ALLOW_REGISTRATION', () => {
  it('false closes /auth/register with 403 forbidden; existing accounts still log in', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-test-'));
    h = await startHarness({}, { dataDir });
    const existing = await register();
    await h.close();
    h = await startHarness({ ALLOW_REGISTRATION: 'false' }, { dataDir });
    const r = await call('POST', '/auth/register', { body: { email: uniqueEmail(), password: 'correct horse battery' } });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'forbidden', message: expect.any(String) });
    expect((await call('POST', '/auth/login', { body: { email: existing.email, password: 'correct horse battery' } })).status).toBe(200);
  });

  it('defaults to true, and a value other than a boolean fails at start', async () => {
    h = await startHarness({ ALLOW_REGISTRATION: 'TRUE' });
    expect(h.config.allowRegistration).toBe(true);
    await h.close();
    h = undefined;
    await expect(startHarness({ ALLOW_REGISTRATION: 'maybe' })).rejects.toThrow(/ALLOW_REGISTRATION/);
  });
});
