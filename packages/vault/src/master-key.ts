import { VaultError } from './vault-error.js';

export const MASTER_KEY_BYTES = 32;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * Decodes a 64-hex-character master key into a Buffer the caller owns and must zero-fill when done. Allocated
 * outside Node's shared Buffer pool so wiping it cannot race other users of the pool slab.
 */
export function parseMasterKey(hex: unknown): Buffer {
  if (typeof hex !== 'string' || !HEX_KEY.test(hex)) throw new VaultError('invalid_key_format');
  const key = Buffer.alloc(MASTER_KEY_BYTES);
  key.write(hex, 'hex');
  return key;
}
