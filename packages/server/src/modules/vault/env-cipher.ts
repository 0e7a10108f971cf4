/** What EnvCipher needs from the vault: AAD-bound string encryption that answers AppErrors (VaultService). */
export interface FieldCrypto {
  encrypt(aad: readonly string[], value: string): string;
  decrypt(aad: readonly string[], ciphertext: string): string;
}

/**
 * Encryption of app data that is not a secret row: inline `env` values, repo tokens, webhook secrets. Every value
 * is bound by its associated data to where it belongs, so a ciphertext copied to another app, key or field fails
 * to decrypt. Throws AppError('sealed') (503) while the vault is sealed.
 *
 * AAD layouts (stable: changing them makes stored values undecryptable):
 * - inline env:   ['env', orgId, appId, key]
 * - other fields: ['field', ...aad], e.g. encryptField(['repo_token', orgId, appId], token). The 'field' prefix
 *   keeps these from ever being confused with env or secret values.
 */
export class EnvCipher {
  constructor(private readonly crypto: FieldCrypto) {}

  encryptEnv(orgId: string, appId: string, env: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, this.crypto.encrypt(envAad(orgId, appId, k), v)]));
  }

  decryptEnv(orgId: string, appId: string, encrypted: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(encrypted).map(([k, ct]) => [k, this.crypto.decrypt(envAad(orgId, appId, k), ct)]));
  }

  encryptField(aad: readonly string[], value: string): string {
    return this.crypto.encrypt(fieldAad(aad), value);
  }

  decryptField(aad: readonly string[], ciphertext: string): string {
    return this.crypto.decrypt(fieldAad(aad), ciphertext);
  }
}

export function envAad(orgId: string, appId: string, key: string): string[] {
  return ['env', orgId, appId, key];
}

function fieldAad(aad: readonly string[]): string[] {
  if (aad.length === 0) throw new TypeError('encryptField/decryptField need associated data naming the field');
  return ['field', ...aad];
}
