/** Wire format of a data ciphertext: `v1.<term>.<base64url(nonce12 ‖ ciphertext ‖ tag16)>`. */
export const CIPHERTEXT_VERSION = 'v1';
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

const PREFIX = `${CIPHERTEXT_VERSION}.`;
/** Ten digits keep Number() exact and bound the scan. */
const MAX_TERM_DIGITS = 10;

export interface ParsedCiphertext {
  term: number;
  nonce: Buffer;
  data: Buffer;
  tag: Buffer;
}

export function ciphertextHeader(term: number): string {
  return `${CIPHERTEXT_VERSION}.${term}.`;
}

export function formatCiphertext(header: string, nonce: Buffer, data: Buffer, tag: Buffer): string {
  return header + Buffer.concat([nonce, data, tag], nonce.length + data.length + tag.length).toString('base64url');
}

/** Reads only the term, without decoding the body; null when the string is not a v1 ciphertext. */
export function ciphertextTerm(ciphertext: string): number | null {
  const end = termEnd(ciphertext);
  return end < 0 ? null : Number(ciphertext.slice(PREFIX.length, end));
}

/** Returns null for anything malformed so the caller can answer with one undifferentiated error. */
export function parseCiphertext(ciphertext: string): ParsedCiphertext | null {
  const end = termEnd(ciphertext);
  if (end < 0) return null;
  const encoded = ciphertext.slice(end + 1);
  const body = Buffer.from(encoded, 'base64url');
  // Node's decoder silently skips characters outside the alphabet; comparing lengths makes such edits fail
  // instead of decoding to the same bytes.
  if (body.length < NONCE_BYTES + TAG_BYTES || base64urlLength(body.length) !== encoded.length) return null;
  return {
    term: Number(ciphertext.slice(PREFIX.length, end)),
    nonce: body.subarray(0, NONCE_BYTES),
    data: body.subarray(NONCE_BYTES, body.length - TAG_BYTES),
    tag: body.subarray(body.length - TAG_BYTES),
  };
}

/**
 * Index of the dot closing a canonical term (digits, no leading zero), or -1. A hand-written scan because this
 * runs on every decrypt; canonical terms mean "v1.01." cannot alias term 1.
 */
function termEnd(ciphertext: string): number {
  if (typeof ciphertext !== 'string' || !ciphertext.startsWith(PREFIX)) return -1;
  const first = ciphertext.charCodeAt(PREFIX.length);
  if (!(first >= 0x31 && first <= 0x39)) return -1;
  const limit = Math.min(ciphertext.length, PREFIX.length + MAX_TERM_DIGITS);
  for (let i = PREFIX.length + 1; i < limit; i += 1) {
    const c = ciphertext.charCodeAt(i);
    if (c === 0x2e) return i;
    if (c < 0x30 || c > 0x39) return -1;
  }
  return ciphertext.charCodeAt(limit) === 0x2e ? limit : -1;
}

function base64urlLength(bytes: number): number {
  const rest = bytes % 3;
  return Math.floor(bytes / 3) * 4 + (rest === 0 ? 0 : rest + 1);
}
