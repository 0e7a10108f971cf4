import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MemoryKeyringStorage, type KeyringStorage } from './keyring-storage.js';
import { createVault, vaultInternals, type Vault, type VaultOptions } from './vault.js';
import { VaultError, type VaultErrorCode } from './vault-error.js';

const KEY_A = 'a1'.repeat(32);
const KEY_B = '0f'.repeat(32);
const KEY_C = '3c'.repeat(32);
const AAD = ['secret', 'org_1', 'db', 'PASSWORD'];

/** Counts saves and can hold them open, to observe write frequency and interleavings. */
class ObservedStorage implements KeyringStorage {
  readonly inner = new MemoryKeyringStorage();
  saves = 0;
  gate: Promise<void> | null = null;

  load(): Promise<string | null> {
    return this.inner.load();
  }

  async save(wrapped: string, expectedPrevious: string | null): Promise<void> {
    if (this.gate) await this.gate;
    this.saves += 1;
    await this.inner.save(wrapped, expectedPrevious);
  }
}

async function unsealed(options: Partial<VaultOptions> = {}, key = KEY_A): Promise<Vault> {
  const vault = createVault({ storage: new MemoryKeyringStorage(), ...options });
  await vault.unseal(key);
  return vault;
}

function codeOf(fn: () => unknown): VaultErrorCode | 'no error' {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VaultError);
    return (error as VaultError).code;
  }
  return 'no error';
}

async function rejectionOf(promise: Promise<unknown>): Promise<VaultError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VaultError);
    return error as VaultError;
  }
  throw new Error('expected a rejection');
}

function bodyOf(ciphertext: string): { header: string; body: Buffer } {
  const dot = ciphertext.indexOf('.', 3);
  return { header: ciphertext.slice(0, dot + 1), body: Buffer.from(ciphertext.slice(dot + 1), 'base64url') };
}

describe('Vault round trip', () => {
  it('encrypts strings and Buffers and decrypts them with the same associated data', async () => {
    const vault = await unsealed();
    const text = vault.encrypt('hunter2 ✓', AAD);
    expect(text).toMatch(/^v1\.1\.[A-Za-z0-9_-]+$/);
    expect(vault.decryptString(text, AAD)).toBe('hunter2 ✓');

    const bytes = randomBytes(1024);
    expect(vault.decrypt(vault.encrypt(bytes, ['env', 'o', 'a', 'K']), ['env', 'o', 'a', 'K']).equals(bytes)).toBe(true);
    expect(vault.decryptString(vault.encrypt('', AAD), AAD)).toBe('');
  });

  it('uses a fresh 96-bit nonce and a 16-byte tag every time', async () => {
    const vault = await unsealed();
    const one = bodyOf(vault.encrypt('same', AAD)).body;
    const two = bodyOf(vault.encrypt('same', AAD)).body;
    expect(one.length).toBe(12 + 4 + 16);
    expect(one.subarray(0, 12).equals(two.subarray(0, 12))).toBe(false);
  });

  it('keeps data readable across a restart with the same key', async () => {
    const storage = new MemoryKeyringStorage();
    const first = createVault({ storage });
    expect(await first.unseal(KEY_A)).toBe('initialized');
    const text = first.encrypt('persisted', AAD);
    await first.seal();

    const second = createVault({ storage });
    expect(second.sealed).toBe(true);
    expect(await second.unseal(KEY_A)).toBe('unsealed');
    expect(second.decryptString(text, AAD)).toBe('persisted');
  });
});

describe('Vault unseal', () => {
  it('refuses a wrong key, leaves the store untouched and stays sealed', async () => {
    const storage = new MemoryKeyringStorage();
    await createVault({ storage }).unseal(KEY_A);
    const before = await storage.load();

    const vault = createVault({ storage });
    const error = await rejectionOf(vault.unseal(KEY_B));
    expect(error.code).toBe('invalid_key');
    expect(vault.sealed).toBe(true);
    expect(await storage.load()).toBe(before);
    // A wrong previous key during rotation is refused the same way.
    expect((await rejectionOf(vault.unseal(KEY_C, KEY_B))).code).toBe('invalid_key');
    expect(await storage.load()).toBe(before);
    expect(vault.sealed).toBe(true);
    expect(await vault.unseal(KEY_A)).toBe('unsealed');
  });

  it('rejects malformed keys as invalid_key_format before touching storage', async () => {
    const storage = new ObservedStorage();
    const vault = createVault({ storage });
    for (const bad of ['', 'xyz', KEY_A.slice(2), `${KEY_A}00`, `${KEY_A.slice(2)}gg`]) {
      expect((await rejectionOf(vault.unseal(bad))).code).toBe('invalid_key_format');
    }
    expect((await rejectionOf(vault.unseal(KEY_A, 'nope'))).code).toBe('invalid_key_format');
    expect(storage.saves).toBe(0);
    expect(await storage.load()).toBeNull();
  });

  it('refuses a previous key on an empty store', async () => {
    const storage = new MemoryKeyringStorage();
    const vault = createVault({ storage });
    expect((await rejectionOf(vault.unseal(KEY_B, KEY_A))).code).toBe('invalid_key');
    expect(await storage.load()).toBeNull();
  });

  it('is idempotent with the same key and refuses another key while unsealed', async () => {
    const vault = await unsealed();
    expect(await vault.unseal(KEY_A.toUpperCase())).toBe('already_unsealed');
    expect((await rejectionOf(vault.unseal(KEY_B))).code).toBe('invalid_key');
    expect(vault.sealed).toBe(false);
  });

  it('serialises concurrent unseals of one vault on a fresh store', async () => {
    const vault = createVault({ storage: new MemoryKeyringStorage() });
    const outcomes = await Promise.all([vault.unseal(KEY_A), vault.unseal(KEY_A)]);
    expect(outcomes).toEqual(['initialized', 'already_unsealed']);
  });

  it('stays sealed when seal() is called while an unseal is in flight', async () => {
    const vault = createVault({ storage: new MemoryKeyringStorage() });
    const pending = vault.unseal(KEY_A);
    await vault.seal();
    expect(await pending).toBe('initialized');
    expect(vault.sealed).toBe(true);
    expect(await vault.unseal(KEY_A)).toBe('unsealed');
  });
});

describe('Vault decrypt rejects', () => {
  it('any tampered byte in nonce, ciphertext or tag', async () => {
    const vault = await unsealed();
    const text = vault.encrypt('tamper me', AAD);
    const { header, body } = bodyOf(text);
    for (let i = 0; i < body.length; i += 1) {
      const copy = Buffer.from(body);
      copy[i]! ^= 0x01;
      expect(codeOf(() => vault.decrypt(header + copy.toString('base64url'), AAD)), `byte ${i}`).toBe('decrypt_failed');
    }
  });

  it('a truncated tag', async () => {
    const vault = await unsealed();
    const { header, body } = bodyOf(vault.encrypt('short tag', AAD));
    for (const cut of [1, 4, 8]) {
      const truncated = header + body.subarray(0, body.length - cut).toString('base64url');
      expect(codeOf(() => vault.decrypt(truncated, AAD))).toBe('decrypt_failed');
    }
    // Too short to even hold nonce and tag.
    expect(codeOf(() => vault.decrypt(header + body.subarray(0, 27).toString('base64url'), AAD))).toBe('decrypt_failed');
  });

  it('swapped or re-split associated data', async () => {
    const vault = await unsealed();
    const text = vault.encrypt('v', ['a', 'bc']);
    expect(codeOf(() => vault.decrypt(text, ['ab', 'c']))).toBe('decrypt_failed');
    expect(codeOf(() => vault.decrypt(text, ['bc', 'a']))).toBe('decrypt_failed');
    expect(codeOf(() => vault.decrypt(text, ['a', 'bc', '']))).toBe('decrypt_failed');
    expect(vault.decryptString(text, ['a', 'bc'])).toBe('v');
  });

  it('a ciphertext copied into another row', async () => {
    const vault = await unsealed();
    const fromOrg1 = vault.encrypt('s3cret', ['secret', 'org_1', 'db', 'PASSWORD']);
    expect(codeOf(() => vault.decrypt(fromOrg1, ['secret', 'org_2', 'db', 'PASSWORD']))).toBe('decrypt_failed');
    expect(codeOf(() => vault.decrypt(fromOrg1, ['env', 'org_1', 'db', 'PASSWORD']))).toBe('decrypt_failed');
  });

  it('unknown versions, unknown terms and garbage', async () => {
    const vault = await unsealed();
    const text = vault.encrypt('x', AAD);
    for (const bad of [text.replace(/^v1/, 'v2'), text.replace(/^v1\.1\./, 'v1.2.'), text.replace(/^v1\.1\./, 'v1.01.'), 'garbage', '']) {
      expect(codeOf(() => vault.decrypt(bad, AAD)), bad).toBe('decrypt_failed');
    }
  });

  it('without putting plaintext, ciphertext or keys in the error', async () => {
    const vault = await unsealed();
    const text = vault.encrypt('do-not-leak', AAD);
    try {
      vault.decrypt(text, ['other']);
      expect.unreachable();
    } catch (error) {
      const shown = inspect(error) + JSON.stringify(error) + String(error);
      for (const secret of ['do-not-leak', text, KEY_A]) expect(shown).not.toContain(secret);
    }
  });
});

describe('Vault sealed state', () => {
  it('refuses every crypto operation while sealed', async () => {
    const vault = await unsealed();
    const text = vault.encrypt('x', AAD);
    const sealing = vault.seal();
    expect(vault.sealed).toBe(true); // immediately, not after the promise
    await sealing;
    expect(codeOf(() => vault.encrypt('x', AAD))).toBe('sealed');
    expect(codeOf(() => vault.decrypt(text, AAD))).toBe('sealed');
    expect(codeOf(() => vault.decryptString(text, AAD))).toBe('sealed');
    expect(codeOf(() => vault.reencrypt(text, AAD))).toBe('sealed');
    expect(codeOf(() => vault.needsReencrypt(text))).toBe('sealed');
    expect((await rejectionOf(vault.rotateDataKey())).code).toBe('sealed');
    expect((await rejectionOf(vault.retireTerm(1))).code).toBe('sealed');
    expect(vault.status()).toEqual({ sealed: true });
    await vault.seal(); // sealing twice is harmless
  });

  it('is sealed before the first unseal', () => {
    const vault = createVault({ storage: new MemoryKeyringStorage() });
    expect(vault.sealed).toBe(true);
    expect(codeOf(() => vault.encrypt('x', AAD))).toBe('sealed');
  });

  it('zero-fills the master key and data keys it owns on seal', async () => {
    const vault = await unsealed();
    await vault.rotateDataKey();
    const owned = vault[vaultInternals]();
    expect(owned).not.toBeNull();
    const buffers = [owned!.master, ...owned!.dataKeys];
    expect(buffers).toHaveLength(3);
    expect(owned!.master.equals(Buffer.from(KEY_A, 'hex'))).toBe(true);
    for (const b of buffers) expect(b.some((byte) => byte !== 0)).toBe(true);

    await vault.seal();
    for (const b of buffers) expect(b.every((byte) => byte === 0)).toBe(true);
    expect(vault[vaultInternals]()).toBeNull();
  });

  it('zero-fills the old master key after a master-key rotation', async () => {
    const vault = await unsealed();
    const old = vault[vaultInternals]()!.master;
    await vault.unseal(KEY_B, KEY_A);
    expect(old.every((byte) => byte === 0)).toBe(true);
    expect(vault[vaultInternals]()!.master.equals(Buffer.from(KEY_B, 'hex'))).toBe(true);
  });
});

describe('Vault never exposes keys', () => {
  it('in JSON, inspect output, errors or storage', async () => {
    const storage = new MemoryKeyringStorage();
    const vault = createVault({ storage });
    await vault.unseal(KEY_A);
    const dataKey = vault[vaultInternals]()!.dataKeys[0]!;
    const forbidden = [KEY_A, dataKey.toString('hex'), dataKey.toString('base64'), dataKey.toString('base64url')];

    expect(JSON.stringify(vault)).toBe('{"sealed":false}');
    expect(inspect(vault, { showHidden: true, depth: 10 })).toBe('Vault { sealed: false }');
    const errors = await Promise.allSettled([vault.unseal(KEY_B), vault.unseal(`${KEY_A.slice(2)}zz`), vault.retireTerm(1)]);
    const stored = (await storage.load()) ?? '';
    const seen = [JSON.stringify(vault), inspect(vault), stored, ...errors.map((r) => inspect(r))].join('\n');
    for (const secret of forbidden) expect(seen).not.toContain(secret);
    expect(seen).not.toContain(KEY_B);
  });
});

describe('Vault master-key rotation', () => {
  it('re-wraps the keyring: the old key stops working, the new one opens the same data', async () => {
    const storage = new MemoryKeyringStorage();
    const vault = createVault({ storage });
    await vault.unseal(KEY_A);
    const text = vault.encrypt('survives rotation', AAD);
    expect(await vault.unseal(KEY_B, KEY_A)).toBe('rotated');
    expect(vault.decryptString(text, AAD)).toBe('survives rotation');
    expect(await vault.unseal(KEY_B)).toBe('already_unsealed');
    expect((await rejectionOf(vault.unseal(KEY_A))).code).toBe('invalid_key');
    await vault.seal();

    const restarted = createVault({ storage });
    expect((await rejectionOf(restarted.unseal(KEY_A))).code).toBe('invalid_key');
    await restarted.unseal(KEY_B);
    expect(restarted.decryptString(text, AAD)).toBe('survives rotation');
  });

  it('survives a seal() issued while the rotation is in flight', async () => {
    const storage = new ObservedStorage();
    const vault = createVault({ storage });
    await vault.unseal(KEY_A);
    const text = vault.encrypt('x', AAD);
    let release!: () => void;
    storage.gate = new Promise((resolve) => (release = resolve));
    const rotating = vault.unseal(KEY_B, KEY_A);
    await new Promise((resolve) => setImmediate(resolve)); // the rotation is now waiting on its save
    const sealing = vault.seal();
    storage.gate = null;
    release();
    expect(await rotating).toBe('rotated');
    await sealing;
    expect(vault.sealed).toBe(true);

    const restarted = createVault({ storage });
    expect((await rejectionOf(restarted.unseal(KEY_A))).code).toBe('invalid_key');
    await restarted.unseal(KEY_B);
    expect(restarted.decryptString(text, AAD)).toBe('x');
  });

  it('works from the sealed state and requires the current key as previous', async () => {
    const storage = new MemoryKeyringStorage();
    const vault = createVault({ storage });
    await vault.unseal(KEY_A);
    const text = vault.encrypt('x', AAD);
    await vault.seal();

    expect(await vault.unseal(KEY_B, KEY_A)).toBe('rotated');
    expect(vault.decryptString(text, AAD)).toBe('x');
    expect((await rejectionOf(vault.unseal(KEY_C, KEY_A))).code).toBe('invalid_key');
    expect(vault[vaultInternals]()!.master.equals(Buffer.from(KEY_B, 'hex'))).toBe(true);
  });
});

describe('Vault data-key rotation', () => {
  it('adds a term used by new writes while old terms still decrypt, across restarts', async () => {
    const storage = new MemoryKeyringStorage();
    const clock = () => new Date('2030-01-02T03:04:05.000Z');
    const vault = createVault({ storage, clock });
    await vault.unseal(KEY_A);
    const old = vault.encrypt('old', AAD);
    expect(await vault.rotateDataKey()).toBe(2);
    const fresh = vault.encrypt('new', AAD);
    expect(fresh.startsWith('v1.2.')).toBe(true);
    expect(vault.decryptString(old, AAD)).toBe('old');
    expect(vault.needsReencrypt(old)).toBe(true);
    expect(vault.needsReencrypt(fresh)).toBe(false);

    const rewritten = vault.reencrypt(old, AAD);
    expect(rewritten.startsWith('v1.2.')).toBe(true);
    expect(vault.decryptString(rewritten, AAD)).toBe('old');
    expect(vault.reencrypt(fresh, AAD)).toBe(fresh);
    expect(codeOf(() => vault.reencrypt(old, ['wrong']))).toBe('decrypt_failed');

    const status = vault.status();
    expect(status).toMatchObject({ sealed: false, activeTerm: 2 });
    expect(status.sealed === false && status.terms.map((t) => [t.term, t.active, t.createdAt])).toEqual([
      [1, false, '2030-01-02T03:04:05.000Z'],
      [2, true, '2030-01-02T03:04:05.000Z'],
    ]);

    await vault.seal();
    const restarted = createVault({ storage });
    await restarted.unseal(KEY_A);
    expect(restarted.decryptString(old, AAD)).toBe('old');
    expect(restarted.encrypt('x', AAD).startsWith('v1.2.')).toBe(true);
  });

  it('auto-rotates once the active term reaches the threshold', async () => {
    const vault = await unsealed({ rotateAfter: 3 });
    const first = [vault.encrypt('1', AAD), vault.encrypt('2', AAD), vault.encrypt('3', AAD)];
    expect(first.every((c) => c.startsWith('v1.1.'))).toBe(true);
    await vault.flush();
    expect(vault.status()).toMatchObject({ activeTerm: 2 });
    expect(vault.encrypt('4', AAD).startsWith('v1.2.')).toBe(true);
    expect(first.map((c) => vault.decryptString(c, AAD))).toEqual(['1', '2', '3']);
  });

  it('refuses to encrypt past twice the threshold while rotation cannot complete', async () => {
    const storage = new ObservedStorage();
    const errors: unknown[] = [];
    const vault = createVault({ storage, rotateAfter: 2, onBackgroundError: (e) => errors.push(e) });
    await vault.unseal(KEY_A);
    let release!: () => void;
    storage.gate = new Promise((resolve) => (release = resolve));
    for (let i = 0; i < 4; i += 1) vault.encrypt(String(i), AAD);
    expect(codeOf(() => vault.encrypt('5', AAD))).toBe('key_exhausted');
    storage.gate = null;
    release();
    await vault.flush();
    expect(vault.encrypt('6', AAD).startsWith('v1.2.')).toBe(true);
    expect(errors).toEqual([]);
  });

  it('retires old terms but never the active one', async () => {
    const storage = new MemoryKeyringStorage();
    const vault = createVault({ storage });
    await vault.unseal(KEY_A);
    const old = vault.encrypt('old', AAD);
    await vault.rotateDataKey();
    const retiredKey = vault[vaultInternals]()!.dataKeys[0]!;

    expect((await rejectionOf(vault.retireTerm(2))).code).toBe('invalid_term');
    expect((await rejectionOf(vault.retireTerm(9))).code).toBe('invalid_term');
    await vault.retireTerm(1);
    expect(retiredKey.every((byte) => byte === 0)).toBe(true);
    expect(codeOf(() => vault.decrypt(old, AAD))).toBe('decrypt_failed');
    expect(vault.status()).toMatchObject({ activeTerm: 2, terms: [{ term: 2 }] });
    expect((await rejectionOf(vault.retireTerm(1))).code).toBe('invalid_term');

    const restarted = createVault({ storage });
    await restarted.unseal(KEY_A);
    expect(codeOf(() => restarted.decrypt(old, AAD))).toBe('decrypt_failed');
    expect(await restarted.rotateDataKey()).toBe(3);
  });
});

describe('Vault encryption counting', () => {
  it('does not write storage on every encryption', async () => {
    const storage = new ObservedStorage();
    const vault = createVault({ storage });
    await vault.unseal(KEY_A);
    const afterInit = storage.saves;
    for (let i = 0; i < 5000; i += 1) vault.encrypt('x', AAD);
    await vault.flush();
    expect(storage.saves - afterInit).toBe(0);
    expect(vault.status()).toMatchObject({ terms: [{ term: 1, encryptions: 5000 }] });
  });

  it('persists a conservative count periodically and the exact count on seal', async () => {
    const storage = new ObservedStorage();
    const vault = createVault({ storage, persistEvery: 10 });
    await vault.unseal(KEY_A);
    for (let i = 0; i < 25; i += 1) {
      vault.encrypt('x', AAD);
      await vault.flush();
    }
    expect(storage.saves).toBeLessThanOrEqual(4); // init + one reservation per 10 encryptions

    // A crash (no seal) must never under-count.
    const crashed = createVault({ storage });
    await crashed.unseal(KEY_A);
    const afterCrash = crashed.status();
    expect(afterCrash.sealed === false && afterCrash.terms[0]!.encryptions).toBeGreaterThanOrEqual(25);

    await vault.seal();
    const clean = createVault({ storage });
    await clean.unseal(KEY_A);
    expect(clean.status()).toMatchObject({ terms: [{ term: 1, encryptions: 25 }] });
  });
});

describe('Vault compare-and-swap', () => {
  it('lets exactly one of two racing first unseals initialise the store', async () => {
    const storage = new MemoryKeyringStorage();
    const one = createVault({ storage });
    const two = createVault({ storage });
    const results = await Promise.allSettled([one.unseal(KEY_A), two.unseal(KEY_B)]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatchObject({ code: 'conflict' });
    expect([one.sealed, two.sealed].sort()).toEqual([false, true]);
  });

  it('refuses a keyring change based on a stale copy and keeps the loser consistent', async () => {
    const storage = new MemoryKeyringStorage();
    const backgroundErrors: unknown[] = [];
    const a = createVault({ storage });
    const b = createVault({ storage, onBackgroundError: (e) => backgroundErrors.push(e) });
    await a.unseal(KEY_A);
    await b.unseal(KEY_A);
    expect(await a.rotateDataKey()).toBe(2);
    const afterA = await storage.load();

    expect((await rejectionOf(b.rotateDataKey())).code).toBe('conflict');
    expect((await rejectionOf(b.unseal(KEY_B, KEY_A))).code).toBe('conflict');
    expect(await storage.load()).toBe(afterA);
    expect(b.status()).toMatchObject({ activeTerm: 1 });
    expect(b.decryptString(b.encrypt('still fine', AAD), AAD)).toBe('still fine');
    expect(b[vaultInternals]()!.master.equals(Buffer.from(KEY_A, 'hex'))).toBe(true);
    await b.flush();
    expect(backgroundErrors).toMatchObject([{ code: 'conflict' }]); // its count reservation hit the same conflict
  });

  it('reports a failed background count write without throwing from encrypt', async () => {
    const storage = new MemoryKeyringStorage();
    const errors: unknown[] = [];
    const a = createVault({ storage, persistEvery: 1, onBackgroundError: (e) => errors.push(e) });
    const b = createVault({ storage });
    await a.unseal(KEY_A);
    await b.unseal(KEY_A);
    await b.rotateDataKey();
    a.encrypt('x', AAD);
    a.encrypt('y', AAD);
    await a.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: 'conflict' });
  });
});
