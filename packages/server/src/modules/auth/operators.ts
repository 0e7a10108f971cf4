// Operators (CONTRACT.md "Operators"): ADMIN_EMAILS names who may be one; an account on the list becomes one only
// after proving control of the host, by presenting the operator token the server keeps in DATA_DIR/operator-token
// (POST /admin/claim). The claim is recorded in the `operators` table; at every start, claims of accounts no longer
// on the list are deleted (and the list is checked again on every request, so rights follow it at once).
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { AppError } from '../../errors/app-error.js';
import type { Deps } from '../../deps.js';
import { audit } from '../../lib/audit.js';
import type { AuthContext } from './auth.service.js';

export const OPERATOR_TOKEN_FILE = 'operator-token';

type OperatorDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'log'>;

/** Reads the token, or writes a new random one (0600) when there is none; the file's mode is narrowed if wider. */
function loadOrCreateToken(file: string, log: Deps['log']): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // Hex, not base64url: one token in 64 began with '-', and `cynchro admin claim <token>` then read it as an option.
    fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    log.info({ path: file }, 'operator token written: an ADMIN_EMAILS account claims operator rights with it (POST /admin/claim)');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  const token = fs.readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new Error(`${file} holds no usable operator token: delete it and restart to write a new one`);
  return token;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class Operators {
  readonly tokenPath: string;
  /** SHA-256 of the token: compared in constant time whatever the length presented. */
  readonly #tokenDigest: Buffer;
  /** Settles once the claims of accounts no longer in ADMIN_EMAILS are deleted (at construction, i.e. every start). */
  readonly ready: Promise<void>;

  constructor(private readonly deps: OperatorDeps) {
    this.tokenPath = path.join(deps.config.dataDir, OPERATOR_TOKEN_FILE);
    this.#tokenDigest = digest(loadOrCreateToken(this.tokenPath, deps.log));
    this.ready = this.pruneUnlisted().then(
      () => undefined,
      (err: unknown) => deps.log.error({ err }, 'could not prune operators no longer in ADMIN_EMAILS'),
    );
  }

  listed(email: string): boolean {
    return this.deps.config.adminEmails.includes(email.toLowerCase());
  }

  async isOperator(auth: Pick<AuthContext, 'userId' | 'email'>): Promise<boolean> {
    if (!this.listed(auth.email)) return false;
    const row = await this.deps.db.selectFrom('operators').select('user_id').where('user_id', '=', auth.userId).executeTakeFirst();
    return !!row;
  }

  async assertOperator(auth: Pick<AuthContext, 'userId' | 'email'>): Promise<void> {
    if (!this.listed(auth.email)) throw new AppError('forbidden', 'Operators only: this account is not in ADMIN_EMAILS');
    if (!(await this.isOperator(auth))) {
      throw new AppError('forbidden', 'Operators only: claim operator rights first with the token in DATA_DIR/operator-token (POST /admin/claim)');
    }
  }

  /** POST /admin/claim: a listed account presenting the right token becomes an operator (again: idempotent). */
  async claim(auth: AuthContext, token: string): Promise<{ operator: true }> {
    const now = this.deps.clock.now();
    const right = timingSafeEqual(digest(token.trim()), this.#tokenDigest);
    if (!this.listed(auth.email) || !right) {
      await audit(this.deps.db, now, { userId: auth.userId, orgId: auth.orgId, action: 'operator.claim', outcome: 'denied', detail: this.listed(auth.email) ? 'wrong_token' : 'not_listed' });
      throw new AppError('forbidden', 'Only an ADMIN_EMAILS account presenting the operator token can claim operator rights');
    }
    await this.deps.db.insertInto('operators').values({ user_id: auth.userId, claimed_at: now.toISOString() }).onConflict((oc) => oc.column('user_id').doNothing()).execute();
    await audit(this.deps.db, now, { userId: auth.userId, orgId: auth.orgId, action: 'operator.claim', outcome: 'ok' });
    return { operator: true };
  }

  /** Removing an address from ADMIN_EMAILS removes its rights: a later re-listing needs a new claim. */
  async pruneUnlisted(): Promise<number> {
    const listed = this.deps.config.adminEmails;
    let q = this.deps.db.deleteFrom('operators');
    if (listed.length) {
      q = q.where('user_id', 'not in', this.deps.db.selectFrom('users').select('id').where(sql<string>`lower(email)`, 'in', listed));
    }
    const r = await q.executeTakeFirst();
    const n = Number(r.numDeletedRows);
    if (n > 0) this.deps.log.info({ removed: n }, 'operator rights removed from accounts no longer in ADMIN_EMAILS');
    return n;
  }
}
