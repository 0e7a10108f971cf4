import type { Db } from '../db/open-database.js';

export interface AuditEntry {
  userId?: string | null;
  orgId?: string | null;
  action: string;
  outcome: 'ok' | 'denied' | 'failed';
  detail?: string;
}

/**
 * Appends to the operators' log (GET /admin/audit): vault, operator and account-security events, which their
 * owners record with the details only they know (a key term, a reuse). Org events go through the audit middleware.
 * Callers never pass secrets or key material in `detail`.
 */
export async function audit(db: Db, at: Date, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({ at: at.toISOString(), log: 'admin', user_id: e.userId ?? null, org_id: e.orgId ?? null, action: e.action, outcome: e.outcome, detail: e.detail ?? null })
    .execute();
}
