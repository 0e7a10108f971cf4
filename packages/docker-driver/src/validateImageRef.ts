import { DockerError } from './DockerError.js';

// [registry[:port]/]name[/name...][:tag][@digest]; the engine has the final word, this keeps option-like or
// malformed input from ever reaching it.
const REF =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** A full image id as the engine reports it (builds, inspect): never a prefix. */
const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;

/**
 * Refuses references that are not names. What the engine (20.10, and later ones alike) does with a string it is
 * asked to inspect, create a container from, or build FROM: when no tag of that name exists, it searches the ids of
 * every local image for one that *starts with* the string, whatever its length, even one character ("9"), and also
 * for `sha256:<prefix>`. So a bare all-hex reference can name any image on the engine, another tenant's included,
 * and the "multiple IDs" error narrows a prefix. Refused, whatever the length:
 *  - an all-hex reference without a tag, digest or `/` (`9`, `3f2a9c`, a 64-hex id): `cafe` must be written
 *    `cafe:latest` or `docker.io/library/cafe`, which the engine never reads as an id;
 *  - anything starting with `sha256:` (also `sha384:`/`sha512:`), the id form;
 *  - a 64-hex repository name (the engine refuses it too).
 * Allowed: names with an optional tag and an optional digest (`repo@sha256:<64 hex>`, resolved by name and digest
 * together, never as an id). A tag or a `/` makes the engine's id search fail, so `abc:1` and `x/abc` are names.
 */
export function validateImageRef(ref: string, what = 'image reference'): void {
  const shown = `${what} "${String(ref).slice(0, 100)}"`;
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 512 || !REF.test(ref))
    throw new DockerError('invalid_ref', `${shown} is not a valid image reference`);
  if (/^sha(256|384|512):/.test(ref))
    throw new DockerError('invalid_ref', `${shown} is an image id; name the image instead ([registry/]repository[:tag][@sha256:digest])`);
  if (/^[a-f0-9]+$/.test(ref))
    throw new DockerError(
      'invalid_ref',
      `${shown} could be read as an image id; add a tag (${ref}:latest) or the registry path (docker.io/library/${ref})`,
    );
  const path = ref.replace(/@.*$/, '').replace(/:[\w][\w.-]*$/, '');
  if (path.split('/').some((c) => /^[a-f0-9]{64}$/.test(c)))
    throw new DockerError('invalid_ref', `${shown} has a 64-hex repository name, which is an image id`);
}

/** A full `sha256:<64 hex>` image id (as recorded from a build or an inspect), never a prefix or a name. */
export function validateImageId(id: string, what = 'image id'): void {
  if (typeof id !== 'string' || !IMAGE_ID.test(id))
    throw new DockerError('invalid_ref', `${what} "${String(id).slice(0, 100)}" must be a full image id (sha256: and 64 hex digits)`);
}

export function isImageId(s: string): boolean {
  return IMAGE_ID.test(s);
}

/** A name (validateImageRef) or a full image id; never a prefix. */
export function validateImageRefOrId(ref: string, what = 'image reference'): void {
  if (typeof ref === 'string' && IMAGE_ID.test(ref)) return;
  validateImageRef(ref, what);
}

/** Splits a reference the way the engine's /images/create wants it (a digest goes in `tag`). */
export function splitImageRef(ref: string): { fromImage: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { fromImage: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { fromImage: ref, tag: 'latest' };
}
