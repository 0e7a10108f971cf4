// The server side of the vault: the SQLite keyring storage, VaultService's error mapping, the AAD layouts.
import { createVault, VaultError } from '@cynchro/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors/app-error.js';
import { VaultKeyringStorage } from '../src/modules/vault/vault.repo.js';
import { VaultService } from '../src/modules/vault/vault.service.js';
import { startHarness, type Harness } from './harness.js';
import { newMasterKey } from './vault-helpers.js';
import { AAD } from '../src/modules/vault/aad.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const operator = { userId: 'usr_op', orgId: 'org_op', sessionId: 'ses_op', email: 'op@example.com', role: 'owner' as const, tokenId: null, scopes: null, appId: null };

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

describe('AAD layouts (src/modules/vault/aad.ts): each value is bound to where it belongs', () => {
  it('a ciphertext decrypts only under its own org, app, service, key and kind', async () => {
    await h.services.vault.unseal(operator, newMasterKey());
    const vault = h.services.vault;
    const env = vault.encrypt(AAD.env('org_1', 'app_1', 'web', 'API_KEY'), 'k-123');
    expect(env.startsWith('v1.')).toBe(true);
    expect(env).not.toContain('k-123');
    expect(vault.decrypt(AAD.env('org_1', 'app_1', 'web', 'API_KEY'), env)).toBe('k-123');
    for (const wrong of [AAD.env('org_2', 'app_1', 'web', 'API_KEY'), AAD.env('org_1', 'app_2', 'web', 'API_KEY'), AAD.env('org_1', 'app_1', '', 'API_KEY'), AAD.env('org_1', 'app_1', 'web', 'OTHER'), AAD.secret('org_1', 'app_1', 'web', 'API_KEY')])
      expect(() => vault.decrypt(wrong, env)).toThrow(expect.objectContaining({ code: 'internal' }));
    const token = vault.encrypt(AAD.repoToken('org_1', 'app_1'), 'ghp_secret');
    expect(() => vault.decrypt(AAD.webhookSecret('org_1', 'app_1'), token)).toThrow(expect.objectContaining({ code: 'internal' }));
    const orgWide = vault.encrypt(AAD.secret('org_1', null, 'db', 'URL'), 'postgres://');
    expect(() => vault.decrypt(AAD.secret('org_1', 'app_1', 'db', 'URL'), orgWide)).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('answers 503 sealed while sealed', async () => {
    const vault = h.services.vault;
    const ct = vault.encrypt(AAD.repoToken('org_1', 'app_1'), 'v');
    await vault.seal(operator);
    expect(() => vault.encrypt(AAD.repoToken('org_1', 'app_1'), 'v')).toThrow(expect.objectContaining({ code: 'sealed', status: 503 }));
    expect(() => vault.decrypt(AAD.repoToken('org_1', 'app_1'), ct)).toThrow(expect.objectContaining({ code: 'sealed' }));
    await freshKeyring();
  });
});
