import type { Db } from '../../db/open-database.js';
import type { ApiTokensTable } from './tokens.tables.js';

export class TokensRepo {
  constructor(private readonly db: Db) {}

  async insert(row: ApiTokensTable): Promise<void> {
    await this.db.insertInto('api_tokens').values(row).execute();
  }

  /** What authenticating a token needs: the token and its creator's email. */
  byHash(hash: string) {
    return this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select('users.email')
      .where('api_tokens.token_hash', '=', hash)
      .executeTakeFirst();
  }

  byId(orgId: string, id: string) {
    return this.db.selectFrom('api_tokens').selectAll().where('org_id', '=', orgId).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  }

  /** Live (not revoked) tokens of an org, or of one member in it. */
  list(orgId: string, userId?: string) {
    let q = this.db.selectFrom('api_tokens').selectAll().where('org_id', '=', orgId).where('revoked_at', 'is', null);
    if (userId !== undefined) q = q.where('user_id', '=', userId);
    return q.orderBy('created_at', 'desc').orderBy('id').execute();
  }

  async revoke(id: string, at: string): Promise<boolean> {
    const r = await this.db.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Revokes a member's tokens in an org (they left it); answers their ids. */
  async revokeMember(orgId: string, userId: string, at: string): Promise<string[]> {
    const rows = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: at })
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  /** Housekeeping: tokens revoked or expired more than `before` ago go. */
  async prune(before: string): Promise<number> {
    const r = await this.db
      .deleteFrom('api_tokens')
      .where((eb) => eb.or([eb('expires_at', '<', before), eb.and([eb('revoked_at', 'is not', null), eb('revoked_at', '<', before)])]))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
