import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors/app-error.js';
import type { AuthContext } from '../src/modules/auth/auth.service.js';
import { SecretsService, type AppLookup } from '../src/modules/secrets/secrets.service.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';

let h: Harness;
const { call, register, operator, unseal } = client(() => h);
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;
const masterKey = newMasterKey();

beforeAll(async () => {
  h = await startHarness(ADMIN_ENV);
  admin = await operator();
  expect((await unseal(admin, masterKey)).body.outcome).toBe('initialized');
  alice = await register();
  bob = await register();
});
afterAll(async () => {
  await h.close();
});

const put = (u: TestUser, body: unknown) => call('POST', '/secrets', { token: u.accessToken, body });
const get = (u: TestUser, path: string) => call('GET', path, { token: u.accessToken });
const del = (u: TestUser, path: string) => call('DELETE', path, { token: u.accessToken });
const authOf = (u: TestUser): AuthContext => ({ userId: u.userId, orgId: u.orgId, sessionId: 'ses_test', email: u.email, role: 'owner', tokenId: null, scopes: null, appId: null });

async function withSealed<T>(fn: () => Promise<T>): Promise<T> {
  await call('POST', '/admin/seal', { token: admin.accessToken });
  try {
    return await fn();
  } finally {
    expect((await unseal(admin, masterKey)).body.outcome).toBe('unsealed');
  }
}

describe('authentication', () => {
  it('every /secrets route answers 401 without a token or with a bad one', async () => {
    const routes: [string, string, unknown][] = [
      ['POST', '/secrets', { name: 'x', data: { A: 'b' } }],
      ['GET', '/secrets', undefined],
      ['GET', '/secrets/x', undefined],
      ['DELETE', '/secrets/x', undefined],
    ];
    for (const [method, url, body] of routes) {
      const missing = await call(method, url, { body });
      expect(missing.status, `${method} ${url}`).toBe(401);
      expect(missing.body.error).toBe('missing_bearer_token');
      const bad = await call(method, url, { body, token: 'x.y.z' });
      expect(bad.status).toBe(401);
      expect(bad.body.error).toBe('invalid_or_expired_token');
    }
  });
});

describe('POST /secrets', () => {
  it('creates an org-wide secret and answers metadata and key names, never values', async () => {
    const r = await put(alice, { name: 'db', data: { PASSWORD: 'hunter2-create', USER: 'app-user-create' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ name: 'db', scope: 'org', appId: null, keys: ['PASSWORD', 'USER'], createdAt: expect.any(String), updatedAt: r.body.createdAt });
    expect(r.raw).not.toContain('hunter2-create');
    const row = await h.deps.db.selectFrom('secrets').selectAll().where('org_id', '=', alice.orgId).where('name', '=', 'db').executeTakeFirstOrThrow();
    expect(row.app_id).toBeNull();
    expect(row.data).not.toContain('hunter2-create');
    expect(Object.values(JSON.parse(row.data) as Record<string, string>).every((v) => /^v1\.\d+\./.test(v))).toBe(true);
  });

  it('replaces a secret of the same name: new keys, same createdAt, one row', async () => {
    const first = await put(alice, { name: 'replace-me', data: { OLD: 'a' } });
    h.clock.advance(1000);
    const second = await put(alice, { name: 'replace-me', data: { NEW_ONE: 'b', ANOTHER: 'c' } });
    expect(second.status).toBe(200);
    expect(second.body.keys).toEqual(['ANOTHER', 'NEW_ONE']);
    expect(second.body.createdAt).toBe(first.body.createdAt);
    expect(second.body.updatedAt > first.body.updatedAt).toBe(true);
    const rows = await h.deps.db.selectFrom('secrets').select('id').where('org_id', '=', alice.orgId).where('name', '=', 'replace-me').execute();
    expect(rows).toHaveLength(1);
    expect(await h.services.secrets.resolveForApp(alice.orgId, 'app_x', ['replace-me'])).toEqual({ 'replace-me': { NEW_ONE: 'b', ANOTHER: 'c' } });
  });

  it('accepts empty values, blank appId as org-wide, and the documented name characters', async () => {
    const r = await put(alice, { name: 'a.b_c-9', data: { EMPTY: '' }, appId: '' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ scope: 'org', appId: null });
    expect((await put(alice, { name: 'nulled', data: { K: 'v' }, appId: null })).body.scope).toBe('org');
    expect(await h.services.secrets.resolveForApp(alice.orgId, 'app_x', ['a.b_c-9'])).toEqual({ 'a.b_c-9': { EMPTY: '' } });
  });

  it('refuses invalid names with 400 validation on `name`', async () => {
    for (const name of ['', 'UPPER', '-lead', '.lead', 'has space', 'sl/ash', 'x'.repeat(64), 'ünï']) {
      const r = await put(alice, { name, data: { A: 'b' } });
      expect(r.status, name).toBe(400);
      expect(r.body.error).toBe('validation');
      expect(Object.keys(r.body.details.fieldErrors)).toEqual(['name']);
    }
  });

  it('refuses invalid data with 400 validation on `data`', async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`K${i}`, 'v']));
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`K${i}`, 'x'.repeat(60_000)]));
    const cases: [string, unknown][] = [
      ['empty', {}],
      ['not an object', 'PASSWORD=x'],
      ['array', ['a']],
      ['leading digit', { '1ABC': 'x' }],
      ['dash', { 'MY-KEY': 'x' }],
      ['dot', { 'a.b': 'x' }],
      ['empty key', { '': 'x' }],
      ['long key', { ['K'.repeat(129)]: 'x' }],
      ['number value', { A: 1 }],
      ['null value', { A: null }],
      ['object value', { A: { nested: 'x' } }],
      ['NUL', { A: 'a\u0000b' }],
      ['too many keys', many],
      ['value too long', { A: 'x'.repeat(64 * 1024 + 1) }],
      ['total too long', big],
    ];
    for (const [label, data] of cases) {
      const r = await put(alice, { name: 'bad-data', data });
      expect(r.status, label).toBe(400);
      expect(r.body.error, label).toBe('validation');
      expect(Object.keys(r.body.details.fieldErrors), label).toEqual(['data']);
    }
    expect((await put(alice, { name: 'bad-data', data: { '1ABC': 'x' } })).body.details.fieldErrors.data[0]).toMatch(/"1ABC".*environment variable name/);
    expect((await get(alice, '/secrets/bad-data')).status).toBe(404);
  });

  it('refuses a missing body and a missing data field', async () => {
    expect((await put(alice, undefined)).body.error).toBe('validation');
    const r = await put(alice, { name: 'x' });
    expect(r.status).toBe(400);
    expect(Object.keys(r.body.details.fieldErrors)).toEqual(['data']);
  });

  it('answers 404 app_not_found for an appId that is not an app of the org', async () => {
    const r = await put(alice, { name: 'scoped', data: { A: 'b' }, appId: 'app_doesnotexist' });
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('app_not_found');
    expect(await h.deps.db.selectFrom('secrets').select('id').where('name', '=', 'scoped').execute()).toEqual([]);
  });

  it('answers 503 sealed while sealed (it must encrypt), and stores nothing', async () => {
    await withSealed(async () => {
      const r = await put(alice, { name: 'while-sealed', data: { A: 'b' } });
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('sealed');
    });
    expect((await get(alice, '/secrets/while-sealed')).status).toBe(404);
  });
});

describe('GET /secrets, GET /secrets/:name', () => {
  it('lists names, key names and scope, sorted, and never values', async () => {
    await put(alice, { name: 'zz-list', data: { B_KEY: 'list-value-b', A_KEY: 'list-value-a' } });
    const r = await get(alice, '/secrets');
    expect(r.status).toBe(200);
    const names = r.body.secrets.map((s: { name: string }) => s.name);
    expect(names).toEqual([...names].sort());
    expect(r.body.secrets).toContainEqual({ name: 'zz-list', scope: 'org', appId: null, keys: ['A_KEY', 'B_KEY'], createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(r.raw).not.toContain('list-value');
  });

  it('gets one secret (blank appId means org-wide); unknown names answer 404 unknown_secret', async () => {
    await put(alice, { name: 'getme', data: { TOKEN: 'get-value' } });
    const r = await get(alice, '/secrets/getme');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'getme', scope: 'org', appId: null, keys: ['TOKEN'] });
    expect(r.raw).not.toContain('get-value');
    expect((await get(alice, '/secrets/getme?appId=')).body.name).toBe('getme');
    const missing = await get(alice, '/secrets/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'unknown_secret', message: 'Unknown secret "nope"' });
  });

  it('the appId scope is exact: no fall-back from an app to the org-wide secret', async () => {
    await put(alice, { name: 'exact', data: { A: 'b' } });
    const r = await get(alice, '/secrets/exact?appId=app_some');
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('unknown_secret');
  });

  it('refuses a malformed name in the path with 400 validation', async () => {
    const r = await get(alice, '/secrets/NOT_VALID');
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('validation');
  });

  it('list and get keep working while sealed (no decryption needed)', async () => {
    await put(alice, { name: 'sealed-read', data: { A: 'b' } });
    await withSealed(async () => {
      expect((await get(alice, '/secrets')).status).toBe(200);
      expect((await get(alice, '/secrets/sealed-read')).body.keys).toEqual(['A']);
    });
  });
});

describe('DELETE /secrets/:name', () => {
  it('deletes, after which the secret is unknown', async () => {
    await put(alice, { name: 'delete-me', data: { A: 'b' } });
    const r = await del(alice, '/secrets/delete-me');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
    expect((await get(alice, '/secrets/delete-me')).status).toBe(404);
    const again = await del(alice, '/secrets/delete-me');
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('unknown_secret');
  });

  it('with an appId deletes only that scope, not the org-wide secret', async () => {
    await put(alice, { name: 'keep-shared', data: { A: 'b' } });
    expect((await del(alice, '/secrets/keep-shared?appId=app_other')).body.error).toBe('unknown_secret');
    expect((await get(alice, '/secrets/keep-shared')).status).toBe(200);
  });

  it('works while sealed', async () => {
    await put(alice, { name: 'sealed-delete', data: { A: 'b' } });
    await withSealed(async () => {
      expect((await del(alice, '/secrets/sealed-delete')).status).toBe(200);
    });
  });
});

describe("another org's secrets", () => {
  it('are invisible: list, get and delete answer exactly as for a missing secret', async () => {
    await put(alice, { name: 'alice-only', data: { PASSWORD: 'alice-private' } });
    const list = await get(bob, '/secrets');
    expect(list.body.secrets.map((s: { name: string }) => s.name)).not.toContain('alice-only');

    const foreignGet = await get(bob, '/secrets/alice-only');
    const foreignDelete = await del(bob, '/secrets/alice-only');
    expect((await get(alice, '/secrets/alice-only')).status).toBe(200); // Bob's delete did nothing

    // What Alice herself gets for the same name once it really is missing.
    await del(alice, '/secrets/alice-only');
    const missingGet = await get(alice, '/secrets/alice-only');
    const missingDelete = await del(alice, '/secrets/alice-only');
    expect(foreignGet.status).toBe(404);
    expect(foreignGet.body).toEqual(missingGet.body);
    expect(foreignDelete.status).toBe(404);
    expect(foreignDelete.body).toEqual(missingDelete.body);
  });

  it('do not collide: two orgs may use the same name, each sees its own', async () => {
    await put(alice, { name: 'same-name', data: { ALICE: 'a-value' } });
    await put(bob, { name: 'same-name', data: { BOB: 'b-value' } });
    expect((await get(alice, '/secrets/same-name')).body.keys).toEqual(['ALICE']);
    expect((await get(bob, '/secrets/same-name')).body.keys).toEqual(['BOB']);
    expect(await h.services.secrets.resolveForApp(bob.orgId, 'app_b', ['same-name'])).toEqual({ 'same-name': { BOB: 'b-value' } });
    await expect(h.services.secrets.resolveForApp(bob.orgId, 'app_b', ['alice-only'])).rejects.toMatchObject({ code: 'unknown_secret' });
  });
});

describe('the /trpc transport', () => {
  it('answers sealed with 503 there too', async () => {
    await withSealed(async () => {
      const res = await h.app.inject({
        method: 'POST',
        url: '/trpc/secrets.put',
        headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/json' },
        payload: { json: { name: 'via-trpc', data: { A: 'b' } } },
        remoteAddress: '10.99.0.1',
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.json.data.appError.error).toBe('sealed');
    });
  });
});

// App-scoped secrets: the apps module (issue 5) is not here yet, so the service is exercised with an AppLookup
// stub over the same database, and the API is checked against what it stored.
describe('app scope (SecretsService with an AppLookup stub)', () => {
  let secrets: SecretsService;
  let user: TestUser;
  let other: TestUser;

  beforeEach(async () => {
    user = await register();
    other = await register();
    const apps: AppLookup = {
      belongsToOrg: async (orgId, appId) => (orgId === user.orgId && ['app_web', 'app_worker'].includes(appId)) || (orgId === other.orgId && appId === 'app_theirs'),
    };
    secrets = new SecretsService(h.deps, h.services.vault, apps);
  });

  it('an app-scoped secret shadows the org-wide one of the same name for that app only', async () => {
    await secrets.put(authOf(user), { name: 'db', data: { URL: 'org-url', POOL: '5' } });
    await secrets.put(authOf(user), { name: 'db', data: { URL: 'web-url' }, appId: 'app_web' });
    await secrets.put(authOf(user), { name: 'cache', data: { REDIS: 'redis://org' } });

    expect(await secrets.resolveForApp(user.orgId, 'app_web', ['db', 'cache'])).toEqual({ db: { URL: 'web-url' }, cache: { REDIS: 'redis://org' } });
    expect(await secrets.resolveForApp(user.orgId, 'app_worker', ['db'])).toEqual({ db: { URL: 'org-url', POOL: '5' } });
    // Duplicates are harmless; no names need nothing.
    expect(await secrets.resolveForApp(user.orgId, 'app_web', ['db', 'db'])).toEqual({ db: { URL: 'web-url' } });
    expect(await secrets.resolveForApp(user.orgId, 'app_web', [])).toEqual({});
  });

  it('the API lists app-scoped secrets with their scope, and get/delete address them by appId', async () => {
    await secrets.put(authOf(user), { name: 'only-app', data: { K: 'v' }, appId: 'app_web' });
    const list = await get(user, '/secrets');
    expect(list.body.secrets).toEqual([expect.objectContaining({ name: 'only-app', scope: 'app', appId: 'app_web', keys: ['K'] })]);
    expect((await get(user, '/secrets/only-app')).status).toBe(404);
    expect((await get(user, '/secrets/only-app?appId=app_web')).body).toMatchObject({ scope: 'app', appId: 'app_web' });
    expect((await get(other, '/secrets/only-app?appId=app_web')).body.error).toBe('unknown_secret');
    expect((await del(user, '/secrets/only-app')).status).toBe(404);
    expect((await del(user, '/secrets/only-app?appId=app_web')).status).toBe(200);
    expect((await get(user, '/secrets')).body.secrets).toEqual([]);
  });

  it("refuses another org's app with app_not_found", async () => {
    await expect(secrets.put(authOf(user), { name: 'x', data: { K: 'v' }, appId: 'app_theirs' })).rejects.toMatchObject({ code: 'app_not_found' });
  });

  it('unknown names answer unknown_secret naming every missing one, even while sealed; known ones need the vault', async () => {
    await secrets.put(authOf(user), { name: 'present', data: { K: 'v' } });
    const err = await secrets.resolveForApp(user.orgId, 'app_web', ['present', 'missing-a', 'missing-b']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'unknown_secret', message: 'Unknown secrets "missing-a", "missing-b"', details: { names: ['missing-a', 'missing-b'] } });
    await withSealed(async () => {
      await expect(secrets.resolveForApp(user.orgId, 'app_web', ['missing-a'])).rejects.toMatchObject({ code: 'unknown_secret' });
      await expect(secrets.resolveForApp(user.orgId, 'app_web', ['present'])).rejects.toMatchObject({ code: 'sealed', status: 503 });
      await expect(secrets.assertVisible(user.orgId, 'app_web', ['present'])).resolves.toBeUndefined();
    });
  });

  it('assertVisible: org-wide secrets are visible to any app, app-scoped ones only to theirs', async () => {
    await secrets.put(authOf(user), { name: 'shared', data: { K: 'v' } });
    await secrets.put(authOf(user), { name: 'web-only', data: { K: 'v' }, appId: 'app_web' });
    await expect(secrets.assertVisible(user.orgId, null, ['shared'])).resolves.toBeUndefined();
    await expect(secrets.assertVisible(user.orgId, 'app_web', ['shared', 'web-only'])).resolves.toBeUndefined();
    await expect(secrets.assertVisible(user.orgId, null, ['web-only'])).rejects.toMatchObject({ code: 'unknown_secret' });
    await expect(secrets.assertVisible(user.orgId, 'app_worker', ['web-only'])).rejects.toMatchObject({ code: 'unknown_secret' });
    await expect(secrets.assertVisible(other.orgId, null, ['shared'])).rejects.toMatchObject({ code: 'unknown_secret' });
  });

  it('deleteAppSecrets removes that app\'s secrets only', async () => {
    await secrets.put(authOf(user), { name: 'db', data: { URL: 'org' } });
    await secrets.put(authOf(user), { name: 'db', data: { URL: 'web' }, appId: 'app_web' });
    await secrets.put(authOf(user), { name: 'db', data: { URL: 'worker' }, appId: 'app_worker' });
    expect(await secrets.deleteAppSecrets(user.orgId, 'app_web')).toBe(1);
    expect(await secrets.resolveForApp(user.orgId, 'app_web', ['db'])).toEqual({ db: { URL: 'org' } });
    expect(await secrets.resolveForApp(user.orgId, 'app_worker', ['db'])).toEqual({ db: { URL: 'worker' } });
  });

  it('a ciphertext copied into another row, scope or key does not decrypt (AAD binding)', async () => {
    await secrets.put(authOf(user), { name: 'source', data: { K: 'source-value', OTHER: 'x' } });
    await secrets.put(authOf(user), { name: 'target', data: { K: 'target-value' } });
    await secrets.put(authOf(user), { name: 'source', data: { K: 'scoped' }, appId: 'app_web' });
    const rows = await h.deps.db.selectFrom('secrets').select(['id', 'name', 'app_id', 'data']).where('org_id', '=', user.orgId).execute();
    const source = rows.find((r) => r.name === 'source' && r.app_id === null)!;
    const target = rows.find((r) => r.name === 'target')!;
    const scoped = rows.find((r) => r.name === 'source' && r.app_id === 'app_web')!;
    const sourceData = JSON.parse(source.data) as Record<string, string>;

    await h.deps.db.updateTable('secrets').set({ data: JSON.stringify({ K: sourceData.K }) }).where('id', '=', target.id).execute();
    await expect(secrets.resolveForApp(user.orgId, 'app_worker', ['target'])).rejects.toMatchObject({ code: 'internal', status: 500 });

    await h.deps.db.updateTable('secrets').set({ data: JSON.stringify({ K: sourceData.K }) }).where('id', '=', scoped.id).execute();
    await expect(secrets.resolveForApp(user.orgId, 'app_web', ['source'])).rejects.toMatchObject({ code: 'internal' });

    await h.deps.db.updateTable('secrets').set({ data: JSON.stringify({ K: sourceData.OTHER }) }).where('id', '=', source.id).execute();
    await expect(secrets.resolveForApp(user.orgId, 'app_worker', ['source'])).rejects.toMatchObject({ code: 'internal' });
  });
});
