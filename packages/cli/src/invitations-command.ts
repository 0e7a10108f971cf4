// cynchro invitations accept <token|-> | ls | revoke <id>  (ls and revoke: the session's org or --org ORG)
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { parseCommand } from './parse-command.js';
import { readLine } from './prompt.js';
import { UsageError } from './usage-error.js';

const USAGE = 'usage: cynchro invitations accept <token> (- reads it from stdin) | invitations ls | invitations revoke <id>  [--org ORG]';

export async function invitationsCommand(ctx: CliContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, { org: { type: 'string' } });
  const json = !!values.json;
  if (sub === 'accept') {
    if (positionals.length !== 1 || values.org) throw new UsageError('usage: cynchro invitations accept <token> (or - to read it from stdin)');
    const token = (positionals[0] === '-' ? await readLine() : positionals[0]!).trim();
    if (!token) throw new UsageError('invitations accept: no token on standard input');
    const c = ctx.client(values.url);
    const r = await c.invitations.accept(token);
    ctx.print(json, r, () => `Joined org ${r.orgId} as ${r.role}. Act in it with: cynchro orgs switch ${r.orgId}`);
    return 0;
  }
  if (sub === 'ls' || sub === 'list') {
    if (positionals.length) throw new UsageError('invitations ls takes no arguments');
    const c = ctx.client(values.url);
    const orgId = await ctx.actingOrgId(c, values.org);
    const invitations = await c.orgs.invitations(orgId);
    ctx.print(json, { orgId, invitations }, () =>
      invitations.length ? table(['ID', 'EMAIL', 'ROLE', 'EXPIRES'], invitations.map((i) => [i.id, i.email, i.role, i.expiresAt])) : 'No pending invitations');
    return 0;
  }
  if (sub === 'revoke' || sub === 'rm') {
    if (positionals.length !== 1) throw new UsageError('usage: cynchro invitations revoke <id> [--org ORG]');
    const c = ctx.client(values.url);
    const orgId = await ctx.actingOrgId(c, values.org);
    await c.orgs.revokeInvitation(orgId, positionals[0]!);
    ctx.print(json, { revoked: true, orgId, id: positionals[0] }, () => `Revoked invitation ${positionals[0]}`);
    return 0;
  }
  throw new UsageError(USAGE);
}
