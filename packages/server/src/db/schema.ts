// Table types for Kysely. These describe storage only: API contracts live in each module's *.schema.ts.
import type { AppsTable, DeploymentLogsTable, DeploymentsTable, DomainsTable } from '../modules/apps/apps.tables.js';
import type { WebhookDeliveriesTable } from '../modules/webhooks/webhooks.tables.js';
import type { OperatorsTable } from '../modules/auth/operators.tables.js';
import type { AuditLogTable } from '../modules/audit/audit.tables.js';
import type { InvitationsTable, OrgMembersTable, OrgsTable } from '../modules/orgs/orgs.tables.js';
import type { ApiTokensTable } from '../modules/tokens/tokens.tables.js';

export type { OrgsTable, OrgMembersTable, AuditLogTable };

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
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

/** The vault's wrapped keyring: one row (id = 1), ciphertext under the master key; never key material. */
export interface VaultKeyringTable {
  id: number;
  wrapped: string;
  updated_at: string;
}

/** A named bundle of env-style values; `app_id` null = org-wide. Values are vault ciphertext only. */
export interface SecretsTable {
  id: string;
  org_id: string;
  app_id: string | null;
  name: string;
  /** JSON array of the key names, sorted (readable while sealed). */
  keys: string;
  /** JSON object { key: vault ciphertext }. */
  data: string;
  created_at: string;
  updated_at: string;
}

export interface Database {
  users: UsersTable;
  orgs: OrgsTable;
  org_members: OrgMembersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_log: AuditLogTable;
  vault_keyring: VaultKeyringTable;
  secrets: SecretsTable;
  apps: AppsTable;
  domains: DomainsTable;
  deployments: DeploymentsTable;
  deployment_logs: DeploymentLogsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  operators: OperatorsTable;
  invitations: InvitationsTable;
  api_tokens: ApiTokensTable;
}
