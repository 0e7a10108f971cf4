export interface AuditLogTable {
  id: import('kysely').Generated<number>;
  at: string;
  /** `org`: an org's own trail (GET /audit); `admin`: operators' and account-security events (GET /admin/audit). */
  log: 'org' | 'admin';
  user_id: string | null;
  org_id: string | null;
  /** The actor's email at the time (kept when the account goes). */
  email: string | null;
  token_id: string | null;
  action: string;
  outcome: string;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  ip: string | null;
  /** A short reason (an error code, a scope); never a secret value. */
  detail: string | null;
}
