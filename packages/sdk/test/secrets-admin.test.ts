// secrets and admin against a live server (no Docker needed): the vault's gate, write-only values, typed errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, type CynchroClient } from '../src/index.js';
import { email, masterKey } from './helpers.js';

let server: LiveServer;
const operator = { email: email('op'), password: 'operator password' };
let op: CynchroClient;
let user: CynchroClient;
const key = masterKey();
/** The master key in force (the rotation test replaces it). */
let currentKey = key;

beforeAll(async () => {
  server = await startLiveServer({ ADMIN_EMAILS: operator.email });
  op = createClient({ url: server.url, credentials: operator });
  await createClient({ url: server.url }).auth.register(operator);
  user = createClient({ url: server.url });
  await user.auth.register({ email: email('user'), password: 'user password' });
});

describe('admin.claim', () => {
  it('an ADMIN_EMAILS account is forbidden until it claims with the operator token; a wrong token or another account is forbidden', async () => {
    await expect(op.admin.status()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(op.admin.claim('a wrong token, long enough to look real')).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(user.admin.claim(readOperatorToken(server.dataDir))).rejects.toMatchObject({ code: 'forbidden' });
    expect(await op.admin.claim(readOperatorToken(server.dataDir))).toEqual({ operator: true });
  });
});
afterAll(async () => {
  await server?.stop();
});

describe('admin', () => {
  it('a fresh server is sealed; secrets answer 503 sealed', async () => {
    expect(await op.admin.status()).toEqual({ sealed: true });
    await expect(user.secrets.set('db', { URL: 'x' })).rejects.toMatchObject({ code: 'sealed', status: 503 });
  });

  it('only operators: others get forbidden', async () => {
    await expect(user.admin.status()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(user.admin.unseal(key)).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('unseal (initialized, then already_unsealed), a malformed key is a validation error', async () => {
    const v = (await op.admin.unseal('abc').catch((e: unknown) => e)) as CynchroError;
    expect(v).toBeInstanceOf(CynchroError);
    expect(v.code).toBe('validation');
    expect(v.fieldErrors.key).toBeDefined();
    expect(await op.admin.unseal(key)).toEqual({ sealed: false, outcome: 'initialized' });
    expect(await op.admin.unseal(key)).toEqual({ sealed: false, outcome: 'already_unsealed' });
  });

  it('seal, a wrong key is invalid_key, the right one unseals; rotation with previous', async () => {
    expect(await op.admin.seal()).toEqual({ sealed: true });
    await expect(op.admin.unseal(masterKey())).rejects.toMatchObject({ code: 'invalid_key', status: 400 });
    expect(await op.admin.status()).toEqual({ sealed: true });
    expect((await op.admin.unseal(key)).outcome).toBe('unsealed');
    const next = masterKey();
    expect(await op.admin.unseal(next, { previous: key })).toEqual({ sealed: false, outcome: 'rotated' });
    currentKey = next;
    expect((await op.admin.unseal(next)).outcome).toBe('already_unsealed');
  });
});

describe('secrets', () => {
  it('set, get, list: key names only, never values', async () => {
    const s = await user.secrets.set('db-credentials', { PASSWORD: 'hunter2', DATABASE_URL: 'postgres://x' });
    expect(s).toMatchObject({ name: 'db-credentials', scope: 'org', appId: null, keys: ['DATABASE_URL', 'PASSWORD'] });
    expect(JSON.stringify(s)).not.toContain('hunter2');
    expect(await user.secrets.get('db-credentials')).toMatchObject({ keys: ['DATABASE_URL', 'PASSWORD'] });
    const list = await user.secrets.list();
    expect(list.map((x) => x.name)).toEqual(['db-credentials']);
    expect(JSON.stringify(list)).not.toContain('hunter2');
    // Replace: the new key set wins.
    expect((await user.secrets.set('db-credentials', { ONLY: '1' })).keys).toEqual(['ONLY']);
  });

  it('secrets are per org', async () => {
    expect(await op.secrets.list()).toEqual([]);
    await expect(op.secrets.get('db-credentials')).rejects.toMatchObject({ code: 'unknown_secret', status: 404 });
  });

  it('an app scope must name an app of yours', async () => {
    await expect(user.secrets.set('scoped', { A: '1' }, { appId: 'app_nope' })).rejects.toMatchObject({ code: 'app_not_found' });
  });

  it('delete; then unknown_secret; validation errors carry field details', async () => {
    await user.secrets.delete('db-credentials');
    await expect(user.secrets.get('db-credentials')).rejects.toMatchObject({ code: 'unknown_secret', status: 404 });
    await expect(user.secrets.delete('db-credentials')).rejects.toMatchObject({ code: 'unknown_secret' });
    const v = (await user.secrets.set('Bad Name', { 'not-a-key': 'x' }).catch((e: unknown) => e)) as CynchroError;
    expect(v.code).toBe('validation');
    expect(Object.keys(v.fieldErrors)).toContain('name');
  });

  it('while sealed, listing still works but writing answers sealed', async () => {
    await user.secrets.set('kept', { K: 'v' });
    await op.admin.seal();
    try {
      expect((await user.secrets.list()).map((s) => s.name)).toEqual(['kept']);
      await expect(user.secrets.set('other', { K: 'v' })).rejects.toMatchObject({ code: 'sealed', status: 503 });
    } finally {
      await op.admin.unseal(currentKey);
    }
  });
});

describe('errors', () => {
  it('network failures are CynchroError too (code network, status 0)', async () => {
    const dead = createClient({ url: 'http://127.0.0.1:9', tokens: { accessToken: 'a', refreshToken: 'r' } });
    const err = (await dead.apps.list().catch((e: unknown) => e)) as CynchroError;
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'network', status: 0 });
  });
});
