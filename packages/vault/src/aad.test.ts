import { describe, expect, it } from 'vitest';
import { encodeAad } from './aad.js';

describe('encodeAad', () => {
  it('is injective across part boundaries', () => {
    expect(encodeAad('v1.1.', ['a', 'bc']).equals(encodeAad('v1.1.', ['ab', 'c']))).toBe(false);
    expect(encodeAad('v1.1.', ['a', '']).equals(encodeAad('v1.1.', ['a']))).toBe(false);
  });

  it('binds the header', () => {
    expect(encodeAad('v1.1.', ['x']).equals(encodeAad('v1.2.', ['x']))).toBe(false);
  });

  it('keeps lone surrogates distinct', () => {
    expect(encodeAad('h', ['\uD800']).equals(encodeAad('h', ['\uDFFF']))).toBe(false);
  });

  it('is the header followed by the JSON array', () => {
    expect(encodeAad('v1.3.', ['env', 'é"']).toString('utf8')).toBe('v1.3.["env","é\\""]');
  });

  it('rejects empty or non-string associated data', () => {
    expect(() => encodeAad('h', [])).toThrow(TypeError);
    expect(() => encodeAad('h', [1 as unknown as string])).toThrow(TypeError);
  });
});
