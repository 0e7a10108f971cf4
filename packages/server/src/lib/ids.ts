import { randomBytes } from 'node:crypto';
import { encodeBase32LowerCaseNoPadding } from '@oslojs/encoding';

/** Opaque, URL- and label-safe ids with a readable prefix (`usr_…`, `app_…`). 80 random bits. */
export function newId(prefix: string): string {
  return `${prefix}_${encodeBase32LowerCaseNoPadding(randomBytes(10))}`;
}
