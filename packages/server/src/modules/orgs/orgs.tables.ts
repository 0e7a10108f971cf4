import type { Role } from './roles.js';

export interface OrgsTable {
  id: string;
  name: string;
  created_at: string;
  /** The user whose personal org this is (made at registration; it stays); null for team orgs. */
  personal_user_id: string | null;
}

export interface OrgMembersTable {
  org_id: string;
  user_id: string;
  role: Role;
  created_at: string;
}

/** A pending invitation: only its token's hash is kept. Accepted or deleted invitations are gone. */
export interface InvitationsTable {
  id: string;
  org_id: string;
  email: string;
  role: Role;
  token_hash: string;
  invited_by: string;
  created_at: string;
  expires_at: string;
}
