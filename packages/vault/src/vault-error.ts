/**
 * The closed set of failures a caller can act on. Kept small on purpose: the server maps each code to one HTTP
 * answer, and anything outside this set is a programming error (TypeError/RangeError) rather than a vault state.
 */
export type VaultErrorCode =
  | 'sealed'
  | 'invalid_key'
  | 'invalid_key_format'
  | 'decrypt_failed'
  | 'conflict'
  | 'invalid_term'
  | 'corrupt_keyring'
  | 'key_exhausted';

// Fixed texts so no call site is tempted to interpolate key material, plaintext or ciphertext into a message.
const DEFAULT_MESSAGES: Record<VaultErrorCode, string> = {
  sealed: 'the vault is sealed',
  invalid_key: 'the master key does not open the keyring',
  invalid_key_format: 'a master key must be exactly 64 hexadecimal characters',
  decrypt_failed: 'the value could not be decrypted',
  conflict: 'the keyring was changed concurrently',
  invalid_term: 'no such data-key term, or it is the active term',
  corrupt_keyring: 'the stored keyring is unreadable',
  key_exhausted: 'the active data key has reached its encryption limit and rotation has not completed',
};

export class VaultError extends Error {
  override readonly name = 'VaultError';
  readonly code: VaultErrorCode;

  constructor(code: VaultErrorCode, message: string = DEFAULT_MESSAGES[code]) {
    super(message);
    this.code = code;
  }
}

export function isVaultError(error: unknown, code?: VaultErrorCode): error is VaultError {
  return error instanceof VaultError && (code === undefined || error.code === code);
}
