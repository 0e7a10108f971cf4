import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';

let h: Harness;
const { call, register, operator, unseal } = client(() => h);
let admin: TestUser;

// A fresh server (and so a fresh, sealed vault with no keyring) for every test.
beforeEach(async () => {
  h = await startHarness(ADMIN_ENV);
  admin = await operator();
});
afterEach(async () => {
  await h.close();
});

const sealStatus = async () => (await call('GET', '/admin/seal-status', { token: admin.accessToken })).body;

async function auditRows(action?: string) {
  let q = h.deps.db.selectFrom('audit_log').selectAll().where('action', 'like', 'vault.%');
  if (action) q = q.where('action', '=', action);
  return q.orderBy('id').execute();
}

describe('the admin gate', () => {
  const routes = [
    ['GET', '/admin/seal-status', undefined],
    ['POST', '/admin/unseal', { key: 'a'.repeat(64) }],
    ['POST', '/admin/seal', undefined],
    ['GET', '/admin/nodes', undefined],
  ] as const;

  it('answers 401 without a token and with a bad one', async () => {
    for (const [method, url, body] of routes) {
      const missing = await call(method, url, { body });
      expect(missing.status, `${method} ${url}`).toBe(401);
      expect(missing.body.error).toBe('missing_bearer_token');
      const bad = await call(method, url, { body, token: 'not.a.jwt' });
      expect(bad.status).toBe(401);
      expect(bad.body.error).toBe('invalid_or_expired_token');
    }
  });

  it('answers 403 forbidden to a logged-in user who is not in ADMIN_EMAILS, and changes nothing', async () => {
    const user = await register();
    for (const [method, url, body] of routes) {
      const r = await call(method, url, { body, token: user.accessToken });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body.error).toBe('forbidden');
    }
    expect(h.deps.vault.sealed).toBe(true);
    expect(await h.deps.db.selectFrom('vault_keyring').selectAll().execute()).toEqual([]);
  });

  it('matches ADMIN_EMAILS case-insensitively (the env lists the operator upper-cased)', async () => {
    expect((await call('GET', '/admin/seal-status', { token: admin.accessToken })).status).toBe(200);
  });
});

describe('seal-status, unseal, seal', () => {
  it('a fresh server is sealed; the first unseal initialises the keyring', async () => {
    expect(await sealStatus()).toEqual({ sealed: true });
    const key = newMasterKey();
    const r = await unseal(admin, key);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ sealed: false, outcome: 'initialized' });
    expect(await sealStatus()).toEqual({ sealed: false });
    expect(await h.deps.db.selectFrom('vault_keyring').select('id').execute()).toEqual([{ id: 1 }]);
  });

  it('unsealing again with the same key is harmless; a different key is refused and changes nothing', async () => {
    const key = newMasterKey();
    await unseal(admin, key);
    expect((await unseal(admin, key.toUpperCase())).body).toEqual({ sealed: false, outcome: 'already_unsealed' });
    const wrong = await unseal(admin, newMasterKey());
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_key');
    expect(await sealStatus()).toEqual({ sealed: false });
  });

  it('seal drops the key: the server answers sealed, and only the same key opens it again', async () => {
    const key = newMasterKey();
    await unseal(admin, key);
    const s = await call('POST', '/admin/seal', { token: admin.accessToken });
    expect(s.status).toBe(200);
    expect(s.body).toEqual({ sealed: true });
    expect(await sealStatus()).toEqual({ sealed: true });
    // (Sealing itself rewrites the row once, to record exact encryption counts.)
    const before = await h.deps.db.selectFrom('vault_keyring').select('wrapped').executeTakeFirstOrThrow();

    const wrong = await unseal(admin, newMasterKey());
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: 'invalid_key' });
    expect(await sealStatus()).toEqual({ sealed: true });
    // A wrong key overwrites nothing: the keyring is still the one the real key wrapped.
    const after = await h.deps.db.selectFrom('vault_keyring').select('wrapped').executeTakeFirstOrThrow();
    expect(after.wrapped).toBe(before.wrapped);

    expect((await unseal(admin, key)).body).toEqual({ sealed: false, outcome: 'unsealed' });
  });

  it('sealing a sealed server succeeds', async () => {
    const r = await call('POST', '/admin/seal', { token: admin.accessToken });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ sealed: true });
  });

  it('refuses malformed keys with 400 validation naming the field, before touching the vault', async () => {
    const good = newMasterKey();
    const cases: [unknown, string][] = [
      [{ key: good.slice(1) }, 'key'],
      [{ key: `${good}0` }, 'key'],
      [{ key: `${good.slice(2)}zz` }, 'key'],
      [{ key: '' }, 'key'],
      [{}, 'key'],
      [{ key: 1234 }, 'key'],
      [{ key: good, previous: 'abc' }, 'previous'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/admin/unseal', { token: admin.accessToken, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toBe('validation');
      expect(Object.keys(r.body.details.fieldErrors)).toEqual([field]);
      expect(r.raw).not.toContain(good);
    }
    expect(await sealStatus()).toEqual({ sealed: true });
    expect(await h.deps.db.selectFrom('vault_keyring').selectAll().execute()).toEqual([]);
  });

  it('treats a blank previous as not given', async () => {
    const key = newMasterKey();
    expect((await unseal(admin, key, '')).body).toEqual({ sealed: false, outcome: 'initialized' });
  });
});

describe('rotation: {key: new, previous: current}', () => {
  it('re-wraps the keyring under the new key; the old key is then refused', async () => {
    const oldKey = newMasterKey();
    const newKey = newMasterKey();
    await unseal(admin, oldKey);
    const secret = await register();
    expect((await call('POST', '/secrets', { token: secret.accessToken, body: { name: 'db', data: { PASSWORD: 'before-rotation' } } })).status).toBe(200);

    const r = await unseal(admin, newKey, oldKey);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ sealed: false, outcome: 'rotated' });

    await call('POST', '/admin/seal', { token: admin.accessToken });
    const old = await unseal(admin, oldKey);
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('invalid_key');
    expect(await sealStatus()).toEqual({ sealed: true });
    expect((await unseal(admin, newKey)).body).toEqual({ sealed: false, outcome: 'unsealed' });
    // Data was not re-encrypted, and still decrypts.
    expect(await h.services.secrets.resolveForApp(secret.orgId, 'app_any', ['db'])).toEqual({ db: { PASSWORD: 'before-rotation' } });
  });

  it('works from a sealed server too, and leaves it unsealed under the new key', async () => {
    const oldKey = newMasterKey();
    const newKey = newMasterKey();
    await unseal(admin, oldKey);
    await call('POST', '/admin/seal', { token: admin.accessToken });
    expect((await unseal(admin, newKey, oldKey)).body).toEqual({ sealed: false, outcome: 'rotated' });
    await call('POST', '/admin/seal', { token: admin.accessToken });
    expect((await unseal(admin, oldKey)).body.error).toBe('invalid_key');
    expect((await unseal(admin, newKey)).body.outcome).toBe('unsealed');
  });

  it('refuses a wrong previous key and keeps the current one', async () => {
    const key = newMasterKey();
    await unseal(admin, key);
    const r = await unseal(admin, newMasterKey(), newMasterKey());
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_key');
    await call('POST', '/admin/seal', { token: admin.accessToken });
    expect((await unseal(admin, key)).body.outcome).toBe('unsealed');
  });

  it('a previous key on a fresh server (nothing to rotate) is invalid_key', async () => {
    const r = await unseal(admin, newMasterKey(), newMasterKey());
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_key');
    expect(await h.deps.db.selectFrom('vault_keyring').selectAll().execute()).toEqual([]);
  });
});

describe('audit', () => {
  it('records every unseal, rotation and seal attempt with the user and the outcome, never the key', async () => {
    const k1 = newMasterKey();
    const k2 = newMasterKey();
    const wrong = newMasterKey();
    await unseal(admin, k1);
    await unseal(admin, wrong);
    await unseal(admin, k2, k1);
    await unseal(admin, k2, wrong);
    await call('POST', '/admin/seal', { token: admin.accessToken });

    const rows = await auditRows();
    expect(rows.map((r) => [r.action, r.outcome, r.detail])).toEqual([
      ['vault.unseal', 'ok', 'initialized'],
      ['vault.unseal', 'denied', 'invalid_key'],
      ['vault.rotate', 'ok', 'rotated'],
      ['vault.rotate', 'denied', 'invalid_key'],
      ['vault.seal', 'ok', 'sealed'],
    ]);
    for (const r of rows) {
      expect(r.user_id).toBe(admin.userId);
      expect(r.org_id).toBe(admin.orgId);
      for (const k of [k1, k2, wrong]) expect(JSON.stringify(r).toLowerCase()).not.toContain(k);
    }
  });

  it('records attempts the admin gate refused (403), as denied/forbidden with the caller', async () => {
    const user = await register();
    await call('POST', '/admin/unseal', { token: user.accessToken, body: { key: newMasterKey() } });
    await call('POST', '/admin/unseal', { token: user.accessToken, body: { key: newMasterKey(), previous: newMasterKey() } });
    await call('POST', '/admin/seal', { token: user.accessToken });
    await call('GET', '/admin/seal-status', { token: user.accessToken }); // a read, not an attempt
    await call('POST', '/admin/unseal', { body: { key: newMasterKey() } }); // no user to record
    const rows = await auditRows();
    expect(rows.map((r) => [r.action, r.outcome, r.detail, r.user_id])).toEqual([
      ['vault.unseal', 'denied', 'forbidden', user.userId],
      ['vault.rotate', 'denied', 'forbidden', user.userId],
      ['vault.seal', 'denied', 'forbidden', user.userId],
    ]);
  });
});

describe('the /trpc transport', () => {
  it('serves the same procedures (what the SDK calls)', async () => {
    const res = await h.app.inject({ url: '/trpc/admin.sealStatus', headers: { authorization: `Bearer ${admin.accessToken}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json().result.data.json).toEqual({ sealed: true });
  });
});
