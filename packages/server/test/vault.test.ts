// The server side of the vault: the SQLite keyring storage, VaultService's error mapping, EnvCipher.
import { createVault, VaultError } from '@cynchro/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors/app-error.js';
import { VaultKeyringStorage } from '../src/modules/vault/vault.repo.js';
import { VaultService } from '../src/modules/vault/vault.service.js';
import { startHarness, type Harness } from './harness.js';
import { newMasterKey } from './vault-helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const operator = { userId: 'usr_op', orgId: 'org_op', sessionId: 'ses_op', email: 'op@example.com' };

async function freshKeyring(): Promise<void> {
  await h.deps.vault.seal();
  await h.deps.db.deleteFrom('vault_keyring').execute();
}

describe('VaultKeyringStorage', () => {
  it('compares and swaps on the single row', async () => {
    await freshKeyring();
    const storage = new VaultKeyringStorage(h.deps.db);
    expect(await storage.load()).toBeNull();
    await storage.save('a', null);
    await expect(storage.save('b', null)).rejects.toSatisfy((e) => e instanceof VaultError && e.code === 'conflict');
    await expect(storage.save('b', 'x')).rejects.toMatchObject({ code: 'conflict' });
    await storage.save('b', 'a');
    expect(await storage.load()).toBe('b');
    expect(await h.deps.db.selectFrom('vault_keyring').select(['id', 'wrapped']).execute()).toEqual([{ id: 1, wrapped: 'b' }]);
    await freshKeyring();
  });

  it('two servers racing the first unseal on one database: exactly one key wins, the other gets 409 conflict', async () => {
    await freshKeyring();
    const services = [0, 1].map(() => new VaultService({ ...h.deps, vault: createVault({ storage: new VaultKeyringStorage(h.deps.db) }) }));
    const keys = [newMasterKey(), newMasterKey()];
    const results = await Promise.allSettled(services.map((s, i) => s.unseal(operator, keys[i]!)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toBeInstanceOf(AppError);
    expect(failed[0]!.reason).toMatchObject({ code: 'conflict', status: 409 });
    // The loser's key does not open what the winner stored.
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    const loser = services[1 - winner]!;
    await expect(loser.unseal(operator, keys[1 - winner]!)).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(loser.unseal(operator, keys[winner]!)).resolves.toMatchObject({ outcome: 'unsealed' });
    for (const s of services) await s.seal(operator);
    await freshKeyring();
  });
});

describe('VaultService', () => {
  it('maps the vault errors to AppErrors', async () => {
    await freshKeyring();
    const v = h.services.vault;
    expect(() => v.encrypt(['t'], 'x')).toThrow(expect.objectContaining({ code: 'sealed', status: 503 }));
    expect(() => v.decrypt(['t'], 'v1.1.AAAA')).toThrow(expect.objectContaining({ code: 'sealed' }));
    expect(() => v.assertUnsealed()).toThrow(expect.objectContaining({ code: 'sealed' }));
    // The router validates the format first; the service still answers validation if it is reached.
    const bad = await v.unseal(operator, 'not-hex').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'validation', details: { fieldErrors: { key: [expect.any(String)] } } });

    const key = newMasterKey();
    await v.unseal(operator, key);
    const ct = v.encrypt(['t', '1'], 'hello');
    expect(v.decrypt(['t', '1'], ct)).toBe('hello');
    expect(() => v.decrypt(['t', '2'], ct)).toThrow(expect.objectContaining({ code: 'internal', status: 500 }));
    expect(() => v.decrypt(['t', '1'], `${ct.slice(0, -2)}AA`)).toThrow(expect.objectContaining({ code: 'internal' }));
    await expect(v.unseal(operator, newMasterKey())).rejects.toMatchObject({ code: 'invalid_key', status: 400 });
    await v.seal(operator);
    await freshKeyring();
  });

  it('comes back sealed after a restart: the vault lives in memory only', async () => {
    const key = newMasterKey();
    await h.services.vault.unseal(operator, key);
    const dataDir = h.dataDir;
    await h.close();
    h = await startHarness({}, { dataDir });
    expect(h.services.vault.sealStatus()).toEqual({ sealed: true });
    await expect(h.services.vault.unseal(operator, key)).resolves.toEqual({ sealed: false, outcome: 'unsealed' });
    await h.services.vault.seal(operator);
    await freshKeyring();
  });
});

describe('EnvCipher (inline env, repo tokens, webhook secrets)', () => {
  it('round-trips env maps bound to org, app and key', async () => {
    await h.services.vault.unseal(operator, newMasterKey());
    const env = h.services.vault.env;
    const enc = env.encryptEnv('org_1', 'app_1', { API_KEY: 'k-123', EMPTY: '', UNICODE: 'ünïcødé ✓' });
    expect(Object.keys(enc)).toEqual(['API_KEY', 'EMPTY', 'UNICODE']);
    expect(Object.values(enc).every((v) => v.startsWith('v1.'))).toBe(true);
    expect(JSON.stringify(enc)).not.toContain('k-123');
    expect(env.decryptEnv('org_1', 'app_1', enc)).toEqual({ API_KEY: 'k-123', EMPTY: '', UNICODE: 'ünïcødé ✓' });

    expect(() => env.decryptEnv('org_1', 'app_2', enc)).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => env.decryptEnv('org_2', 'app_1', enc)).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => env.decryptEnv('org_1', 'app_1', { OTHER_KEY: enc.API_KEY! })).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('encrypts single fields under their own AAD, never interchangeable with env values', async () => {
    const env = h.services.vault.env;
    const token = env.encryptField(['repo_token', 'org_1', 'app_1'], 'ghp_secret');
    expect(env.decryptField(['repo_token', 'org_1', 'app_1'], token)).toBe('ghp_secret');
    expect(() => env.decryptField(['webhook_secret', 'org_1', 'app_1'], token)).toThrow(expect.objectContaining({ code: 'internal' }));
    const asEnv = env.encryptEnv('org_1', 'app_1', { X: 'v' }).X!;
    expect(() => env.decryptField(['env', 'org_1', 'app_1', 'X'], asEnv)).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => env.encryptField([], 'v')).toThrow(TypeError);
  });

  it('answers 503 sealed while sealed', async () => {
    const env = h.services.vault.env;
    const enc = env.encryptEnv('org_1', 'app_1', { K: 'v' });
    await h.services.vault.seal(operator);
    expect(() => env.encryptEnv('org_1', 'app_1', { K: 'v' })).toThrow(expect.objectContaining({ code: 'sealed', status: 503 }));
    expect(() => env.decryptEnv('org_1', 'app_1', enc)).toThrow(expect.objectContaining({ code: 'sealed' }));
    expect(() => env.encryptField(['f'], 'v')).toThrow(expect.objectContaining({ code: 'sealed' }));
    expect(env.encryptEnv('org_1', 'app_1', {})).toEqual({}); // nothing to encrypt
    await freshKeyring();
  });
});
