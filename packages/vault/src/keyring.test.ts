import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WRAPPED_KEYRING_PREFIX, newDataKey, unwrapKeyring, wrapKeyring, type Keyring } from './keyring.js';

const master = randomBytes(32);

function sample(): Keyring {
  return { activeTerm: 2, terms: [newDataKey(1, '2024-01-01T00:00:00.000Z'), { ...newDataKey(2, 'x'), encryptions: 5 }] };
}

describe('keyring wrapping', () => {
  it('round-trips and never contains the data keys in clear', () => {
    const keyring = sample();
    const wrapped = wrapKeyring(keyring, master);
    expect(wrapped.startsWith(WRAPPED_KEYRING_PREFIX)).toBe(true);
    for (const t of keyring.terms) {
      expect(wrapped).not.toContain(t.key.toString('base64'));
      expect(wrapped).not.toContain(t.key.toString('base64url'));
    }
    const opened = unwrapKeyring(wrapped, master);
    expect(opened.activeTerm).toBe(2);
    expect(opened.terms.map((t) => [t.term, t.createdAt, t.encryptions])).toEqual([
      [1, '2024-01-01T00:00:00.000Z', 0],
      [2, 'x', 5],
    ]);
    expect(opened.terms[1]?.key.equals(keyring.terms[1]!.key)).toBe(true);
  });

  it('uses a fresh nonce per wrap', () => {
    const keyring = sample();
    expect(wrapKeyring(keyring, master)).not.toBe(wrapKeyring(keyring, master));
  });

  it('reports a wrong master key as invalid_key', () => {
    expect(() => unwrapKeyring(wrapKeyring(sample(), master), randomBytes(32))).toThrow(
      expect.objectContaining({ code: 'invalid_key' }),
    );
  });

  it('reports an unknown format as corrupt_keyring', () => {
    const wrapped = wrapKeyring(sample(), master);
    expect(() => unwrapKeyring(`kr9.${wrapped.slice(4)}`, master)).toThrow(expect.objectContaining({ code: 'corrupt_keyring' }));
    expect(() => unwrapKeyring('kr1.AAAA', master)).toThrow(expect.objectContaining({ code: 'corrupt_keyring' }));
  });

  it('rejects a keyring whose active term is missing', () => {
    const keyring = sample();
    keyring.activeTerm = 3;
    expect(() => unwrapKeyring(wrapKeyring(keyring, master), master)).toThrow(
      expect.objectContaining({ code: 'corrupt_keyring' }),
    );
  });
});
