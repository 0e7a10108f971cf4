import { describe, expect, it } from 'vitest';
import { ciphertextTerm, formatCiphertext, parseCiphertext } from './ciphertext.js';

const nonce = Buffer.alloc(12, 1);
const tag = Buffer.alloc(16, 2);

describe('ciphertext format', () => {
  it('round-trips nonce, data and tag', () => {
    const text = formatCiphertext('v1.7.', nonce, Buffer.from('hello'), tag);
    expect(text).toMatch(/^v1\.7\.[A-Za-z0-9_-]+$/);
    const parsed = parseCiphertext(text);
    expect(parsed?.term).toBe(7);
    expect(parsed?.nonce.equals(nonce)).toBe(true);
    expect(parsed?.data.toString()).toBe('hello');
    expect(parsed?.tag.equals(tag)).toBe(true);
  });

  it('accepts an empty plaintext', () => {
    expect(parseCiphertext(formatCiphertext('v1.1.', nonce, Buffer.alloc(0), tag))?.data.length).toBe(0);
  });

  it('rejects unknown versions, bad terms, short bodies and stray characters', () => {
    const good = formatCiphertext('v1.1.', nonce, Buffer.from('hello'), tag);
    const body = good.slice('v1.1.'.length);
    for (const bad of [`v2.1.${body}`, `v1.01.${body}`, `v1.0.${body}`, `v1.x.${body}`, `v1.1`, `v1.1.${body.slice(0, 30)}`,
      `v1.1.${body}!`, `v1.1.${body.slice(0, 10)}*${body.slice(10)}`, `v1.1.${body}=`, '']) {
      expect(parseCiphertext(bad), bad).toBeNull();
    }
    expect(ciphertextTerm(`v2.1.${body}`)).toBeNull();
    expect(ciphertextTerm(`v1.42.${body}`)).toBe(42);
    expect(ciphertextTerm(`v1.1234567890.${body}`)).toBe(1234567890);
    expect(ciphertextTerm(`v1.12345678901.${body}`)).toBeNull();
    expect(ciphertextTerm('v1.7.')).toBe(7);
    expect(ciphertextTerm('v1.7')).toBeNull();
  });
});
