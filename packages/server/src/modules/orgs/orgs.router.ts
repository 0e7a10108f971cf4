import { z } from 'zod';
import { procedure, router } from '../../trpc/trpc.js';
import type { SessionAuth } from '../auth/auth.service.js';
import {
  AcceptInput,
  AcceptResult,
  CreateOrgInput,
  InvitationList,
  InvitationRefInput,
  InviteInput,
  InviteResult,
  MemberList,
  MemberRefInput,
  MemberResult,
  OrgIdInput,
  OrgList,
  OrgResult,
  RenameOrgInput,
  SetRoleInput,
} from './orgs.schema.js';

const tags = ['Orgs'];
const auth = ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] as const;

export const orgsRouter = router({
  list: procedure
    .meta({ openapi: { method: 'GET', path: '/orgs', tags, summary: 'The orgs you belong to, with your role in each' }, errors: [...auth], permission: 'account' })
    .input(z.void())
    .output(OrgList)
    .query(({ ctx }) => ctx.services.orgs.list(ctx.auth)),

  create: procedure
    .meta({
      openapi: { method: 'POST', path: '/orgs', tags, summary: 'Create a team org; you are its owner (switch to it with /auth/switch-org)' },
      successStatus: 201,
      errors: [...auth, 'validation', 'quota_exceeded'],
      permission: 'account',
      audit: { action: 'org.create', target: 'org' },
    })
    .input(CreateOrgInput)
    .output(OrgResult)
    .mutation(({ ctx, input }) => ctx.services.orgs.create(ctx.auth, input.name)),

  rename: procedure
    .meta({
      openapi: { method: 'PATCH', path: '/orgs/{orgId}', tags, summary: 'Rename the org (owners)' },
      errors: [...auth, 'validation', 'org_not_found'],
      permission: 'org.owner',
      orgFromInput: true,
      audit: { action: 'org.rename', target: 'org' },
    })
    .input(RenameOrgInput)
    .output(OrgResult)
    .mutation(({ ctx, input }) => ctx.services.orgs.rename(ctx.auth, input.name)),

  members: procedure
    .meta({ openapi: { method: 'GET', path: '/orgs/{orgId}/members', tags, summary: 'The members of an org you belong to' }, errors: [...auth, 'validation', 'org_not_found'], permission: 'members.read', orgFromInput: true })
    .input(OrgIdInput)
    .output(MemberList)
    .query(({ ctx }) => ctx.services.orgs.members(ctx.auth)),

  setRole: procedure
    .meta({
      openapi: { method: 'PATCH', path: '/orgs/{orgId}/members/{userId}', tags, summary: "Change a member's role (owners and admins; only owners make or change owners; the last owner stays)" },
      errors: [...auth, 'validation', 'org_not_found', 'member_not_found', 'conflict'],
      permission: 'members.manage',
      orgFromInput: true,
      audit: { action: 'member.role', target: 'member' },
    })
    .input(SetRoleInput)
    .output(MemberResult)
    .mutation(({ ctx, input }) => ctx.services.orgs.setRole(ctx.auth, input.userId, input.role)),

  removeMember: procedure
    .meta({
      openapi: { method: 'DELETE', path: '/orgs/{orgId}/members/{userId}', tags, summary: 'Remove a member (owners and admins; only owners remove owners), or leave (your own userId); the last owner stays. Their sessions and API tokens in the org stop at once' },
      successStatus: 204,
      errors: [...auth, 'validation', 'org_not_found', 'member_not_found', 'conflict'],
      permission: 'members.read',
      orgFromInput: true,
      audit: { action: 'member.remove', target: 'member' },
    })
    .input(MemberRefInput)
    .output(z.void())
    .mutation(({ ctx, input }) => ctx.services.orgs.removeMember(ctx.auth, input.userId)),

  invite: procedure
    .meta({
      openapi: { method: 'POST', path: '/orgs/{orgId}/invitations', tags, summary: 'Invite someone by email (owners and admins); the token is answered once and is valid 7 days' },
      successStatus: 201,
      errors: [...auth, 'validation', 'org_not_found', 'conflict'],
      permission: 'members.manage',
      orgFromInput: true,
      audit: { action: 'member.invite', target: 'invitation' },
    })
    .input(InviteInput)
    .output(InviteResult)
    .mutation(({ ctx, input }) => ctx.services.orgs.invite(ctx.auth, input.email, input.role)),

  invitations: procedure
    .meta({ openapi: { method: 'GET', path: '/orgs/{orgId}/invitations', tags, summary: 'Pending invitations (owners and admins)' }, errors: [...auth, 'validation', 'org_not_found'], permission: 'members.manage', orgFromInput: true })
    .input(OrgIdInput)
    .output(InvitationList)
    .query(({ ctx }) => ctx.services.orgs.invitations(ctx.auth)),

  revokeInvitation: procedure
    .meta({
      openapi: { method: 'DELETE', path: '/orgs/{orgId}/invitations/{id}', tags, summary: 'Withdraw a pending invitation (owners and admins)' },
      successStatus: 204,
      errors: [...auth, 'validation', 'org_not_found', 'invitation_not_found'],
      permission: 'members.manage',
      orgFromInput: true,
      audit: { action: 'member.uninvite', target: 'invitation' },
    })
    .input(InvitationRefInput)
    .output(z.void())
    .mutation(({ ctx, input }) => ctx.services.orgs.revokeInvitation(ctx.auth, input.id)),
});

export const invitationsRouter = router({
  accept: procedure
    .meta({
      openapi: { method: 'POST', path: '/invitations/accept', tags, summary: 'Join the org of an invitation addressed to your email (once)' },
      errors: [...auth, 'validation', 'invitation_not_found'],
      permission: 'account',
      audit: { action: 'member.join', target: 'invitation' },
    })
    .input(AcceptInput)
    .output(AcceptResult)
    .mutation(({ ctx, input }) => ctx.services.orgs.accept(ctx.auth as SessionAuth, input.token)),
});
