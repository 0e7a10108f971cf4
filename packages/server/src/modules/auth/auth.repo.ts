import type { Db } from '../../db/open-database.js';
import type { UsersTable } from '../../db/schema.js';

export class AuthRepo {
  constructor(private readonly db: Db) {}

  findUserByEmail(email: string) {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  findUserById(id: string) {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Creates the user, a personal org and the owner membership in one transaction. */
  async createUserWithOrg(user: UsersTable, org: { id: string; name: string }): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('users').values(user).execute();
      await tx.insertInto('orgs').values({ id: org.id, name: org.name, created_at: user.created_at, personal_user_id: user.id }).execute();
      await tx
        .insertInto('org_members')
        .values({ org_id: org.id, user_id: user.id, role: 'owner', created_at: user.created_at })
        .execute();
    });
  }

  /** The user's personal org: the oldest org they own. */
  async primaryOrgId(userId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('org_members')
      .select('org_id')
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('org_id')
      .executeTakeFirst();
    return row?.org_id;
  }

  async isMember(userId: string, orgId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('org_members')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return !!row;
  }

  createSession(s: { id: string; user_id: string; org_id: string; created_at: string; expires_at: string }) {
    return this.db.insertInto('sessions').values({ ...s, revoked_at: null, revoked_reason: null }).execute();
  }

  /** What each authenticated request needs: is the session live, and who is it. */
  findLiveSession(sessionId: string) {
    return this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.id', 'sessions.user_id', 'sessions.org_id', 'sessions.created_at', 'sessions.expires_at', 'sessions.revoked_at', 'users.email', 'users.name', 'users.created_at as user_created_at'])
      .where('sessions.id', '=', sessionId)
      .executeTakeFirst();
  }

  insertRefreshToken(t: { id: string; session_id: string; token_hash: string; created_at: string; expires_at: string }) {
    return this.db.insertInto('refresh_tokens').values({ ...t, used_at: null }).execute();
  }

  findRefreshToken(hash: string) {
    return this.db
      .selectFrom('refresh_tokens')
      .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
      .select([
        'refresh_tokens.id',
        'refresh_tokens.session_id',
        'refresh_tokens.expires_at',
        'refresh_tokens.used_at',
        'sessions.user_id',
        'sessions.org_id',
        'sessions.created_at as session_created_at',
        'sessions.expires_at as session_expires_at',
        'sessions.revoked_at',
      ])
      .where('refresh_tokens.token_hash', '=', hash)
      .executeTakeFirst();
  }

  /**
   * Rotation's atomic step: marks the token used only if nobody else did. Returns false when it lost the race
   * (or the token was already rotated), which the caller treats as reuse.
   */
  async markRefreshTokenUsed(id: string, at: string): Promise<boolean> {
    const r = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: at })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async revokeSession(sessionId: string, at: string, reason: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeUserOrgSessions(userId: string, orgId: string, at: string, reason: string): Promise<number> {
    const r = await this.db
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('user_id', '=', userId)
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async revokeUserSessions(userId: string, at: string, reason: string, exceptSessionId?: string): Promise<number> {
    let q = this.db
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null);
    if (exceptSessionId) q = q.where('id', '!=', exceptSessionId);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * Housekeeping: deletes sessions past their end (expiry, or their absolute lifetime after login), sessions revoked
   * before `revokedBefore` (their refresh tokens go with them: cascade), and any refresh token past its expiry.
   */
  async pruneExpired(now: string, lifetimeMs: number, revokedBefore: string): Promise<{ sessions: number; refreshTokens: number }> {
    const createdBefore = new Date(Date.parse(now) - lifetimeMs).toISOString();
    const tokens = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<=', now).executeTakeFirst();
    const sessions = await this.db
      .deleteFrom('sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('created_at', '<=', createdBefore), eb.and([eb('revoked_at', 'is not', null), eb('revoked_at', '<', revokedBefore)])]))
      .executeTakeFirst();
    return { sessions: Number(sessions.numDeletedRows), refreshTokens: Number(tokens.numDeletedRows) };
  }

  updatePasswordHash(userId: string, hash: string) {
    return this.db.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute();
  }
}
