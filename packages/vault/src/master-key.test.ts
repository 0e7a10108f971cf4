import { describe, expect, it } from 'vitest';
import { parseMasterKey } from './master-key.js';
import { VaultError } from './vault-error.js';

describe('parseMasterKey', () => {
  it('decodes 64 hex characters of either case into 32 bytes', () => {
    expect(parseMasterKey('ab'.repeat(32)).equals(Buffer.alloc(32, 0xab))).toBe(true);
    expect(parseMasterKey('AB'.repeat(32)).equals(Buffer.alloc(32, 0xab))).toBe(true);
  });

  it.each(['', 'ab'.repeat(31), 'ab'.repeat(33), `${'ab'.repeat(31)}zz`, ` ${'ab'.repeat(32)}`, 42])(
    'rejects %j as invalid_key_format without echoing it',
    (input) => {
      try {
        parseMasterKey(input);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(VaultError);
        expect((error as VaultError).code).toBe('invalid_key_format');
        if (typeof input === 'string' && input.length > 0) expect((error as Error).message).not.toContain(input);
      }
    },
  );
});
