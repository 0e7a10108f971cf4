// The control channel's shared secret: 32 random bytes in DATA_DIR/ingress/token (0600), created by whichever side
// needs it first. Created under a temporary name and linked into place, so the other side never reads half a token
// and two first starts racing end up with one token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { ensureIngressDir, type IngressFiles } from './ingress-files.js';
import { IngressError } from './ingress.js';

const TOKEN = /^[0-9a-f]{64}$/;

export function ensureIngressToken(files: IngressFiles): string {
  ensureIngressDir(files);
  const existing = readToken(files);
  if (existing !== undefined) return existing;
  const tmp = `${files.token}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, files.token); // fails with EEXIST when the other side was first: then theirs is the token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const token = readToken(files);
  if (token === undefined) throw new IngressError(`No ingress token could be created at ${files.token}`);
  return token;
}

function readToken(files: IngressFiles): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(files.token, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!TOKEN.test(text)) throw new IngressError(`${files.token} does not hold an ingress token (64 hex digits); remove it to make a new one`);
  return text;
}

/** Constant-time comparison of a presented bearer token with ours (hashing first evens out the lengths). */
export function tokenMatches(presented: string | undefined, ours: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(ours).digest();
  return timingSafeEqual(a, b);
}

/** The token from an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
