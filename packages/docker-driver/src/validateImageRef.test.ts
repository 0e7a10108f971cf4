import { describe, expect, it } from 'vitest';
import { DockerError } from './DockerError.js';
import { isImageId, validateImageId, validateImageRef, validateImageRefOrId } from './validateImageRef.js';

const HEX64 = '3f2a9c'.padEnd(64, '0');

function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof DockerError) return err.code;
    throw err;
  }
}

describe('validateImageRef', () => {
  // The engine reads any of these as an id (prefix) when no tag of that name exists: one hex digit is enough.
  it.each(['9', 'f', '3f2a', '3f2a9c', '3f2a9c0000ab', HEX64, `sha256:${HEX64}`, 'sha256:3f2a', 'sha256:9', 'sha256:latest', 'sha512:abc', `${HEX64}:latest`, `x/${HEX64}`])(
    'refuses %s',
    (ref) => {
      expect(code(() => validateImageRef(ref))).toBe('invalid_ref');
    },
  );

  it.each([
    'busybox',
    'busybox:1.36',
    'cafe:latest',
    'docker.io/library/cafe',
    'library/3f2a',
    '3f2a:1',
    'ghcr.io/acme/api:1.2.3',
    '127.0.0.1:5000/app:v1',
    `acme/api@sha256:${HEX64}`,
    `acme/api:1@sha256:${HEX64}`,
    `3f2a@sha256:${HEX64}`,
  ])('allows the name %s', (ref) => {
    expect(code(() => validateImageRef(ref))).toBeUndefined();
  });

  it('says how to write an all-hex name', () => {
    expect(() => validateImageRef('cafe')).toThrow(/cafe:latest.*docker\.io\/library\/cafe/);
    expect(() => validateImageRef('--help')).toThrow(/not a valid image reference/);
  });
});

describe('image ids', () => {
  it('accepts only a full sha256 id where an id is expected', () => {
    expect(code(() => validateImageId(`sha256:${HEX64}`))).toBeUndefined();
    for (const bad of [HEX64, 'sha256:3f2a', `sha256:${HEX64}0`, 'busybox', `SHA256:${HEX64}`]) expect(code(() => validateImageId(bad))).toBe('invalid_ref');
    expect(isImageId(`sha256:${HEX64}`)).toBe(true);
    expect(isImageId('sha256:3f2a')).toBe(false);
    expect(code(() => validateImageRefOrId(`sha256:${HEX64}`))).toBeUndefined();
    expect(code(() => validateImageRefOrId('busybox:1'))).toBeUndefined();
    expect(code(() => validateImageRefOrId('sha256:3f2a'))).toBe('invalid_ref');
    expect(code(() => validateImageRefOrId('3f2a'))).toBe('invalid_ref');
  });
});
