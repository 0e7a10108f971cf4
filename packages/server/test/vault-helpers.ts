// Shared by the vault, admin and secrets tests: an inject-based REST client, users, operators and master keys.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Harness } from './harness.js';
import { uniqueEmail } from './harness.js';

export const ADMIN_EMAIL = `operator-${process.pid}@example.com`;
export const ADMIN_ENV = { ADMIN_EMAILS: `someone-else@example.com, ${ADMIN_EMAIL.toUpperCase()}` };

export function newMasterKey(): string {
  return randomBytes(32).toString('hex');
}

export interface Reply {
  status: number;
  body: any;
  raw: string;
}

export interface TestUser {
  accessToken: string;
  orgId: string;
  userId: string;
  email: string;
}

let ipSeq = 0;

export function client(h: () => Harness) {
  // Each call from its own client IP so the /auth rate limit never bites these tests.
  const nextIp = () => `10.9.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

  async function call(method: string, url: string, opts: { body?: unknown; token?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await h().app.inject({ method: method as 'GET', url, payload: opts.body as object, headers, remoteAddress: nextIp() });
    return { status: res.statusCode, body: res.body ? res.json() : undefined, raw: res.body };
  }

  async function register(email = uniqueEmail()): Promise<TestUser> {
    const r = await call('POST', '/auth/register', { body: { email, password: 'correct horse battery' } });
    expect(r.status).toBe(200);
    return { accessToken: r.body.accessToken, orgId: r.body.orgId, userId: r.body.user.id, email };
  }

  async function login(email: string): Promise<TestUser> {
    const r = await call('POST', '/auth/login', { body: { email, password: 'correct horse battery' } });
    expect(r.status).toBe(200);
    return { accessToken: r.body.accessToken, orgId: r.body.orgId, userId: r.body.user.id, email };
  }

  /** The host's operator token, as an operator reads it: `cat $DATA_DIR/operator-token`. */
  function operatorToken(): string {
    return fs.readFileSync(path.join(h().dataDir, 'operator-token'), 'utf8').trim();
  }

  async function claim(user: TestUser, token = operatorToken()): Promise<Reply> {
    return call('POST', '/admin/claim', { token: user.accessToken, body: { token } });
  }

  /**
   * The operator account (ADMIN_EMAIL), registered on first use in this harness or logged in after a restart, and
   * its operator rights claimed with the token from the data dir (claiming again is harmless).
   */
  async function operator(): Promise<TestUser> {
    const exists = await h().deps.db.selectFrom('users').select('id').where('email', '=', ADMIN_EMAIL).executeTakeFirst();
    const op = exists ? await login(ADMIN_EMAIL) : await register(ADMIN_EMAIL);
    const r = await claim(op);
    expect(r.status, r.raw).toBe(200);
    return op;
  }

  async function unseal(admin: TestUser, key: string, previous?: string): Promise<Reply> {
    return call('POST', '/admin/unseal', { token: admin.accessToken, body: previous === undefined ? { key } : { key, previous } });
  }

  return { call, register, login, operator, operatorToken, claim, unseal };
}
