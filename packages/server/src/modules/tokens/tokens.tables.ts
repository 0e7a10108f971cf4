import type { Scope } from '../auth/permissions.js';

/** API tokens for CI and scripts: only the secret's SHA-256 is kept. */
export interface ApiTokensTable {
  id: string;
  org_id: string;
  /** The creator: the token acts with this member's current role, narrowed by its scopes. */
  user_id: string;
  name: string;
  /** JSON array of scopes. */
  scopes: string;
  app_id: string | null;
  token_hash: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export type { Scope };
