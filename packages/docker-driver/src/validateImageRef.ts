import { DockerError } from './DockerError.js';

// [registry[:port]/]name[/name...][:tag][@digest]; the engine has the final word, this keeps option-like or
// malformed input from ever reaching it.
const REF =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function validateImageRef(ref: string, what = 'image reference'): void {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 512 || !REF.test(ref))
    throw new DockerError('invalid_ref', `${what} "${String(ref).slice(0, 100)}" is not a valid image reference`);
}

/** Splits a reference the way the engine's /images/create wants it (a digest goes in `tag`). */
export function splitImageRef(ref: string): { fromImage: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { fromImage: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { fromImage: ref, tag: 'latest' };
}
