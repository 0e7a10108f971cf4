/**
 * Canonical encoding of associated data: the ciphertext header followed by the parts as a JSON array. JSON of an
 * array of strings is injective (JSON.parse inverts it), so ["a", "bc"] and ["ab", "c"] bind to different bytes,
 * and unlike a UTF-8 length prefix it also keeps lone surrogates distinct instead of folding them into U+FFFD.
 * The header ends in "." and JSON starts with "[", so the two cannot run into each other; binding the header stops
 * a ciphertext being replayed under another version or term label. (JSON also measured faster than assembling a
 * length-prefixed Buffer by hand, and this runs twice per round trip.)
 */
export function encodeAad(header: string, parts: readonly string[]): Buffer {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new TypeError('associated data must be a non-empty array of strings naming what the value is');
  }
  for (let i = 0; i < parts.length; i += 1) {
    if (typeof parts[i] !== 'string') throw new TypeError('associated data parts must be strings');
  }
  return Buffer.from(header + JSON.stringify(parts), 'utf8');
}
