// cynchro orgs ls | create <name> | switch <org> | rename <org> <name>
import { CliContext, findOrg } from './cli-context.js';
import { table } from './format.js';
import { parseCommand } from './parse-command.js';
import { UsageError } from './usage-error.js';

const USAGE = 'usage: cynchro orgs ls | orgs create <name> | orgs switch <org> | orgs rename <org> <name>';

export async function orgsCommand(ctx: CliContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, {});
  const json = !!values.json;
  if (sub === 'ls' || sub === 'list') {
    if (positionals.length) throw new UsageError('orgs ls takes no arguments');
    const c = ctx.client(values.url);
    const [orgs, currentOrgId] = await Promise.all([c.orgs.list(), ctx.sessionOrgId(c)]);
    ctx.print(json, { orgs, currentOrgId }, () =>
      table(['', 'NAME', 'ID', 'ROLE', 'PERSONAL'], orgs.map((o) => [o.id === currentOrgId ? '*' : '', o.name, o.id, o.role, o.personal ? 'yes' : ''])));
    return 0;
  }
  if (sub === 'create') {
    if (positionals.length !== 1) throw new UsageError('usage: cynchro orgs create <name>');
    const org = await ctx.client(values.url).orgs.create(positionals[0]!);
    ctx.print(json, { org }, () => `Created org ${org.name} (${org.id}); you are its owner. Act in it with: cynchro orgs switch ${org.id}`);
    return 0;
  }
  if (sub === 'switch') {
    if (positionals.length !== 1) throw new UsageError('usage: cynchro orgs switch <org> (an org id or name, see cynchro orgs ls)');
    ctx.refuseWithApiToken('orgs switch');
    const c = ctx.client(values.url);
    const org = await findOrg(c, positionals[0]!);
    const r = await c.auth.switchOrg(org.id); // the new tokens go to the credentials file through its store
    ctx.rememberOrg(r.orgId);
    ctx.print(json, { org, orgId: r.orgId, user: r.user }, () => `Now acting in ${org.name} (${org.id}) as ${org.role}`);
    return 0;
  }
  if (sub === 'rename') {
    if (positionals.length !== 2) throw new UsageError('usage: cynchro orgs rename <org> <new name>');
    const c = ctx.client(values.url);
    const before = await findOrg(c, positionals[0]!);
    const org = await c.orgs.rename(before.id, positionals[1]!);
    ctx.print(json, { org }, () => `Renamed ${before.name} to ${org.name} (${org.id})`);
    return 0;
  }
  throw new UsageError(USAGE);
}
