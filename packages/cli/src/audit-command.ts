// cynchro audit [--limit N] [--before CURSOR]: the org's audit log (owners and admins), newest first.
// `cynchro admin audit` shows the operators' own log with the same options and output.
import type { AuditPage, AuditQuery, OperatorAuditPage } from '@cynchro/sdk';
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { int, parseCommand } from './parse-command.js';
import { UsageError } from './usage-error.js';

export function formatAuditPage(page: AuditPage | OperatorAuditPage, again: string): string {
  const rows = page.events.map((e) => [
    e.at,
    e.action,
    [e.target.type, e.target.name ?? e.target.id ?? ''].filter(Boolean).join(' '),
    e.actor.email ?? e.actor.userId ?? '',
    e.actor.tokenId ? `token ${e.actor.tokenId}` : '',
    e.detail ? `${e.outcome} (${e.detail})` : e.outcome,
    e.ip ?? '',
  ]);
  const out = [page.events.length ? table(['AT', 'ACTION', 'TARGET', 'ACTOR', 'VIA', 'OUTCOME', 'IP'], rows) : 'No events'];
  if (page.nextCursor) out.push(`More: ${again} --before ${page.nextCursor}`);
  return out.join('\n');
}

/** --limit and --before, as the SDK takes them. */
export function auditQueryFrom(values: { limit?: string | undefined; before?: string | undefined }): AuditQuery {
  const limit = int(values.limit, '--limit');
  return { ...(limit !== undefined ? { limit } : {}), ...(values.before ? { before: values.before } : {}) };
}

export async function auditCommand(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { limit: { type: 'string', short: 'n' }, before: { type: 'string' } });
  if (positionals.length) throw new UsageError('usage: cynchro audit [--limit N] [--before CURSOR]');
  const query = auditQueryFrom(values);
  const page = await ctx.client(values.url).audit.list(query);
  ctx.print(!!values.json, page, () => formatAuditPage(page, `cynchro audit${query.limit ? ` --limit ${query.limit}` : ''}`));
  return 0;
}
