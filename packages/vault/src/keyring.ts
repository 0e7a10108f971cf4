import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { NONCE_BYTES, TAG_BYTES } from './ciphertext.js';
import { VaultError } from './vault-error.js';

export const DATA_KEY_BYTES = 32;
/** Versioned prefix of the wrapped keyring so a future format can be told apart before trying to open it. */
export const WRAPPED_KEYRING_PREFIX = 'kr1.';
// Domain separation: a data ciphertext can never be mistaken for a keyring, nor a keyring for a data value.
const KEYRING_AAD = Buffer.from('cynchro-keyring-v1', 'latin1');

export interface KeyringTerm {
  term: number;
  /** Owned by whoever holds the keyring; zero-fill it when the keyring is dropped. */
  key: Buffer;
  createdAt: string;
  /** Encryptions made with this term, or a conservative upper bound of them. */
  encryptions: number;
}

export interface Keyring {
  activeTerm: number;
  terms: KeyringTerm[];
}

interface KeyringJson {
  version: 1;
  activeTerm: number;
  terms: { term: number; key: string; createdAt: string; encryptions: number }[];
}

export function newDataKey(term: number, createdAt: string): KeyringTerm {
  return { term, key: randomBytes(DATA_KEY_BYTES), createdAt, encryptions: 0 };
}

export function wipeKeyring(keyring: Keyring): void {
  for (const term of keyring.terms) term.key.fill(0);
}

export function wrapKeyring(keyring: Keyring, masterKey: Buffer): string {
  const json: KeyringJson = {
    version: 1,
    activeTerm: keyring.activeTerm,
    terms: keyring.terms.map((t) => ({
      term: t.term,
      key: t.key.toString('base64'),
      createdAt: t.createdAt,
      encryptions: t.encryptions,
    })),
  };
  const plaintext = Buffer.from(JSON.stringify(json), 'utf8');
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', masterKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(KEYRING_AAD);
    const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return WRAPPED_KEYRING_PREFIX + Buffer.concat([nonce, data, cipher.getAuthTag()]).toString('base64url');
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Opens a wrapped keyring. A failed authentication is reported as `invalid_key`: with AES-GCM that is how a wrong
 * master key shows itself (the alternative, a tampered store, is indistinguishable and equally fatal).
 */
export function unwrapKeyring(wrapped: string, masterKey: Buffer): Keyring {
  if (!wrapped.startsWith(WRAPPED_KEYRING_PREFIX)) throw new VaultError('corrupt_keyring');
  const body = Buffer.from(wrapped.slice(WRAPPED_KEYRING_PREFIX.length), 'base64url');
  if (body.length < NONCE_BYTES + TAG_BYTES) throw new VaultError('corrupt_keyring');

  const decipher = createDecipheriv('aes-256-gcm', masterKey, body.subarray(0, NONCE_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(KEYRING_AAD);
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  const plaintext = decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw new VaultError('invalid_key');
  }
  try {
    return parseKeyringJson(plaintext.toString('utf8'));
  } finally {
    plaintext.fill(0);
  }
}

function parseKeyringJson(text: string): Keyring {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new VaultError('corrupt_keyring');
  }
  if (!isRecord(json) || json.version !== 1 || !isCount(json.activeTerm) || !Array.isArray(json.terms)) {
    throw new VaultError('corrupt_keyring');
  }
  const terms: KeyringTerm[] = [];
  try {
    for (const raw of json.terms as unknown[]) {
      if (
        !isRecord(raw) ||
        !isCount(raw.term) ||
        raw.term < 1 ||
        typeof raw.key !== 'string' ||
        typeof raw.createdAt !== 'string' ||
        !isCount(raw.encryptions) ||
        terms.some((t) => t.term === raw.term)
      ) {
        throw new VaultError('corrupt_keyring');
      }
      terms.push({ term: raw.term, key: decodeDataKey(raw.key), createdAt: raw.createdAt, encryptions: raw.encryptions });
    }
    if (!terms.some((t) => t.term === json.activeTerm)) throw new VaultError('corrupt_keyring');
  } catch (error) {
    for (const t of terms) t.key.fill(0);
    throw error;
  }
  return { activeTerm: json.activeTerm, terms };
}

function decodeDataKey(base64: string): Buffer {
  // Unpooled, so the bytes can be wiped without touching a shared slab.
  const key = Buffer.alloc(DATA_KEY_BYTES);
  if (base64.length !== 44 || key.write(base64, 'base64') !== DATA_KEY_BYTES || key.toString('base64') !== base64) {
    key.fill(0);
    throw new VaultError('corrupt_keyring');
  }
  return key;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
