// Table types for Kysely. These describe storage only: API contracts live in each module's *.schema.ts.
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: string;
}

export interface OrgsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface OrgMembersTable {
  org_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  created_at: string;
}

/** One login: a family of refresh tokens. Revoking it kills its access tokens at once. */
export interface SessionsTable {
  id: string;
  user_id: string;
  org_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  id: string;
  session_id: string;
  token_hash: string;
  created_at: string;
  expires_at: string;
  /** Set when rotated; presenting a rotated token again is reuse and revokes the family. */
  used_at: string | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  user_id: string | null;
  org_id: string | null;
  action: string;
  outcome: string;
  detail: string | null;
}

export interface Database {
  users: UsersTable;
  orgs: OrgsTable;
  org_members: OrgMembersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_log: AuditLogTable;
}
