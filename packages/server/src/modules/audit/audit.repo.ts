import type { Insertable } from 'kysely';
import type { Db } from '../../db/open-database.js';
import type { AuditLogTable } from './audit.tables.js';

export class AuditRepo {
  constructor(private readonly db: Db) {}

  async insert(row: Insertable<AuditLogTable>): Promise<void> {
    await this.db.insertInto('audit_log').values(row).execute();
  }

  /** Newest first, `limit` rows with ids below `before`; `orgId` undefined reads the operators' log. */
  page(log: 'org' | 'admin', orgId: string | undefined, limit: number, before?: number) {
    let q = this.db.selectFrom('audit_log').selectAll().where('log', '=', log);
    if (orgId !== undefined) q = q.where('org_id', '=', orgId);
    if (before !== undefined) q = q.where('id', '<', before);
    return q.orderBy('id', 'desc').limit(limit).execute();
  }
}
