import { sql } from 'kysely';
import type { Db } from '../../db/open-database.js';
import type { SecretsTable } from '../../db/schema.js';

/** `coalesce(app_id, '')` matches the unique index, so an exact-scope lookup uses it in full. */
const scope = sql<string>`coalesce(app_id, '')`;

export class SecretsRepo {
  constructor(private readonly db: Db) {}

  listByOrg(orgId: string) {
    return this.db
      .selectFrom('secrets')
      .select(['name', 'app_id', 'keys', 'created_at', 'updated_at'])
      .where('org_id', '=', orgId)
      .orderBy('name')
      .orderBy(scope)
      .execute();
  }

  /** The secret in exactly this scope (`appId` null = org-wide). */
  find(orgId: string, appId: string | null, name: string) {
    return this.db
      .selectFrom('secrets')
      .selectAll()
      .where('org_id', '=', orgId)
      .where(scope, '=', appId ?? '')
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** Every row an app can see among `names`: org-wide ones and (when appId is given) those scoped to it. */
  visibleTo(orgId: string, appId: string | null, names: readonly string[]) {
    if (names.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('secrets')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('name', 'in', names)
      .where(scope, 'in', appId === null ? [''] : ['', appId])
      .execute();
  }

  /** Create or replace by (org, scope, name); a replacement keeps its id and created_at. Returns the stored row. */
  async upsert(row: SecretsTable): Promise<SecretsTable> {
    return this.db.transaction().execute(async (tx) => {
      const existing = await tx
        .selectFrom('secrets')
        .select(['id', 'created_at'])
        .where('org_id', '=', row.org_id)
        .where(scope, '=', row.app_id ?? '')
        .where('name', '=', row.name)
        .executeTakeFirst();
      if (!existing) {
        await tx.insertInto('secrets').values(row).execute();
        return row;
      }
      await tx
        .updateTable('secrets')
        .set({ keys: row.keys, data: row.data, updated_at: row.updated_at })
        .where('id', '=', existing.id)
        .execute();
      return { ...row, id: existing.id, created_at: existing.created_at };
    });
  }

  async delete(orgId: string, appId: string | null, name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('secrets')
      .where('org_id', '=', orgId)
      .where(scope, '=', appId ?? '')
      .where('name', '=', name)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async deleteApp(orgId: string, appId: string): Promise<number> {
    const r = await this.db.deleteFrom('secrets').where('org_id', '=', orgId).where('app_id', '=', appId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
