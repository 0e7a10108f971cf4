// cynchro members ls | invite <email> --role R | role <user> <role> | rm <user>, in the session's org or --org ORG.
import type { CynchroClient, Member, OrgRole } from '@cynchro/sdk';
import { CynchroError } from '@cynchro/sdk';
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { need, oneOf, parseCommand } from './parse-command.js';
import { UsageError } from './usage-error.js';

/** Every role, checked against the API's type: adding one there fails to compile here until it is listed. */
export const ROLES: Record<OrgRole, true> = { owner: true, admin: true, developer: true, viewer: true };

const USAGE = 'usage: cynchro members ls | members invite <email> --role ROLE | members role <user> <role> | members rm <user>  [--org ORG]';

/** A member by user id or email (emails compare case-insensitively). */
export async function findMember(c: CynchroClient, orgId: string, idOrEmail: string): Promise<Member> {
  const members = await c.orgs.members(orgId);
  const m = members.find((x) => x.userId === idOrEmail) ?? members.find((x) => x.email.toLowerCase() === idOrEmail.toLowerCase());
  if (!m) throw new CynchroError('member_not_found', `No member of org ${orgId} has the id or email "${idOrEmail}"`, 404);
  return m;
}

export async function membersCommand(ctx: CliContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, { org: { type: 'string' }, role: { type: 'string' } });
  const json = !!values.json;
  if (!sub || !['ls', 'list', 'invite', 'role', 'rm', 'remove'].includes(sub)) throw new UsageError(USAGE);
  if (values.role !== undefined && sub !== 'invite') throw new UsageError('--role is for members invite (members role <user> <role> changes a role)');
  const c = ctx.client(values.url);
  if (sub === 'ls' || sub === 'list') {
    if (positionals.length) throw new UsageError('members ls takes no arguments');
    const orgId = await ctx.actingOrgId(c, values.org);
    const members = await c.orgs.members(orgId);
    ctx.print(json, { orgId, members }, () =>
      table(['EMAIL', 'NAME', 'USER', 'ROLE', 'JOINED'], members.map((m) => [m.email, m.name ?? '', m.userId, m.role, m.joinedAt])));
    return 0;
  }
  if (sub === 'invite') {
    if (positionals.length !== 1) throw new UsageError('usage: cynchro members invite <email> --role owner|admin|developer|viewer [--org ORG]');
    const role = oneOf(ROLES, need(values.role, '--role (owner, admin, developer or viewer)'), '--role');
    const orgId = await ctx.actingOrgId(c, values.org);
    const r = await c.orgs.invite(orgId, { email: positionals[0]!, role });
    ctx.print(json, r, () =>
      [
        `Invited ${r.invitation.email} as ${r.invitation.role} (invitation ${r.invitation.id}, expires ${r.invitation.expiresAt})`,
        `They accept with: cynchro invitations accept ${r.token}`,
        'The token is shown only this once; send it to them privately.',
      ].join('\n'));
    return 0;
  }
  if (sub === 'role') {
    if (positionals.length !== 2) throw new UsageError('usage: cynchro members role <user> <role> (user: id or email)');
    const role = oneOf(ROLES, positionals[1]!, 'the role');
    const orgId = await ctx.actingOrgId(c, values.org);
    const m = await findMember(c, orgId, positionals[0]!);
    const member = await c.orgs.setRole(orgId, m.userId, role);
    ctx.print(json, { member }, () => `${member.email} is now ${member.role}`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('usage: cynchro members rm <user> (user: id or email)');
  const orgId = await ctx.actingOrgId(c, values.org);
  const m = await findMember(c, orgId, positionals[0]!);
  const sessionOrg = ctx.apiToken ? null : await ctx.sessionOrgId(c);
  await c.orgs.removeMember(orgId, m.userId);
  // Leaving the org the stored session acts in ends that session (the server refuses it from now on).
  const leftOwnOrg = sessionOrg === orgId && m.email.toLowerCase() === ctx.sessionEmail()?.toLowerCase();
  ctx.print(json, { removed: true, orgId, userId: m.userId, email: m.email }, () =>
    leftOwnOrg ? `You left org ${orgId}; your session acted in it and has ended: run \`cynchro login\` again` : `Removed ${m.email} from org ${orgId}`);
  return 0;
}
