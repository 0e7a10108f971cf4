import { z } from 'zod';
import { email } from '../auth/auth.schema.js';
import { ROLES } from './roles.js';

export const RoleEnum = z.enum(ROLES).meta({ id: 'Role', description: 'owner > admin > developer > viewer' });

const orgName = z.string().trim().min(1, 'must not be empty').max(100);
const id = z.string().min(1).max(64);

export const Org = z
  .object({ id: z.string(), name: z.string(), role: RoleEnum, personal: z.boolean().meta({ description: 'The personal org made at registration (it stays)' }) })
  .meta({ id: 'Org' });
export const OrgList = z.object({ orgs: z.array(Org) }).meta({ id: 'OrgList' });
export const OrgResult = z.object({ org: Org }).meta({ id: 'OrgResult' });

export const CreateOrgInput = z.object({ name: orgName });
export const OrgIdInput = z.object({ orgId: id });
export const RenameOrgInput = z.object({ orgId: id, name: orgName });

export const Member = z
  .object({ userId: z.string(), email: z.string(), name: z.string().nullable(), role: RoleEnum, joinedAt: z.string().meta({ description: 'ISO 8601' }) })
  .meta({ id: 'Member' });
export const MemberList = z.object({ members: z.array(Member) }).meta({ id: 'MemberList' });
export const MemberResult = z.object({ member: Member }).meta({ id: 'MemberResult' });
export const MemberRefInput = z.object({ orgId: id, userId: id });
export const SetRoleInput = z.object({ orgId: id, userId: id, role: RoleEnum });

export const Invitation = z
  .object({ id: z.string(), email: z.string(), role: RoleEnum, expiresAt: z.string().meta({ description: 'ISO 8601; 7 days after the invitation' }) })
  .meta({ id: 'Invitation' });
export const InviteInput = z.object({ orgId: id, email, role: RoleEnum });
export const InviteResult = z
  .object({ invitation: Invitation, token: z.string().meta({ description: 'Shown once: the invited person accepts with it (POST /invitations/accept)' }) })
  .meta({ id: 'InviteResult' });
export const InvitationList = z.object({ invitations: z.array(Invitation) }).meta({ id: 'InvitationList' });
export const InvitationRefInput = z.object({ orgId: id, id });
export const AcceptInput = z.object({ token: z.string().min(1).max(200) });
export const AcceptResult = z.object({ orgId: z.string(), role: RoleEnum }).meta({ id: 'AcceptResult' });

export type OrgDto = z.infer<typeof Org>;
export type MemberDto = z.infer<typeof Member>;
export type InvitationDto = z.infer<typeof Invitation>;
