// cynchro tokens create <name> --scope S... [--app APP] [--expires-in-days N] | tokens ls | tokens revoke <id>
import type { ApiToken, ApiTokenScope, CreateApiTokenInput, CynchroClient } from '@cynchro/sdk';
import { CynchroError } from '@cynchro/sdk';
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { int, list, oneOf, parseCommand } from './parse-command.js';
import { UsageError } from './usage-error.js';

/** Every scope, checked against the API's type. */
export const SCOPES: Record<ApiTokenScope, true> = { read: true, deploy: true, secrets: true, manage: true };

const USAGE = 'usage: cynchro tokens create <name> --scope read|deploy|secrets|manage... [--app APP] [--expires-in-days N] | tokens ls | tokens revoke <id>';

/** A token by id, or by a name only one of them has. */
async function findToken(c: CynchroClient, idOrName: string): Promise<ApiToken> {
  const tokens = await c.tokens.list();
  const byId = tokens.find((t) => t.id === idOrName);
  if (byId) return byId;
  const byName = tokens.filter((t) => t.name === idOrName);
  if (byName.length > 1) throw new CynchroError('conflict', `${byName.length} tokens are named "${idOrName}": give its id (cynchro tokens ls)`, 409);
  if (!byName[0]) throw new CynchroError('token_not_found', `No token named or with id "${idOrName}"`, 404);
  return byName[0];
}

export async function tokensCommand(ctx: CliContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, {
    scope: { type: 'string', multiple: true },
    app: { type: 'string' },
    'expires-in-days': { type: 'string' },
  });
  const json = !!values.json;
  if (sub !== 'create' && (values.scope || values.app || values['expires-in-days'])) throw new UsageError('--scope, --app and --expires-in-days are for tokens create');
  if (sub === 'create') {
    if (positionals.length !== 1) throw new UsageError('usage: cynchro tokens create <name> --scope S [--scope S]... [--app APP] [--expires-in-days N]');
    const scopes = list(values.scope).map((s) => oneOf(SCOPES, s, '--scope'));
    if (!scopes.length) throw new UsageError('tokens create needs at least one --scope (read, deploy, secrets, manage)');
    const expiresInDays = int(values['expires-in-days'], '--expires-in-days');
    const c = ctx.client(values.url);
    const input: CreateApiTokenInput = { name: positionals[0]!, scopes: [...new Set(scopes)] };
    if (values.app) input.appId = (await c.apps.find(values.app)).id;
    if (expiresInDays !== undefined) input.expiresInDays = expiresInDays;
    const r = await c.tokens.create(input);
    ctx.print(json, r, () =>
      [
        `Created token ${r.token.name} (${r.token.id}): ${r.token.scopes.join(', ')}${r.token.appId ? `, app ${values.app} (${r.token.appId}) only` : ''}, expires ${r.token.expiresAt}`,
        r.secret,
        'This secret is shown only now: store it (as the CYNCHRO_TOKEN secret of your CI, say). Use it with CYNCHRO_TOKEN=… CYNCHRO_URL=… cynchro …',
      ].join('\n'));
    return 0;
  }
  if (sub === 'ls' || sub === 'list') {
    if (positionals.length) throw new UsageError('tokens ls takes no arguments');
    const tokens = await ctx.client(values.url).tokens.list();
    ctx.print(json, { tokens }, () =>
      tokens.length
        ? table(['NAME', 'ID', 'SCOPES', 'APP', 'EXPIRES', 'LAST USED'], tokens.map((t) => [t.name, t.id, t.scopes.join(','), t.appId ?? '', t.expiresAt, t.lastUsedAt ?? 'never']))
        : 'No API tokens');
    return 0;
  }
  if (sub === 'revoke' || sub === 'rm') {
    if (positionals.length !== 1) throw new UsageError('usage: cynchro tokens revoke <id>');
    const c = ctx.client(values.url);
    const t = await findToken(c, positionals[0]!);
    await c.tokens.revoke(t.id);
    ctx.print(json, { revoked: true, id: t.id, name: t.name }, () => `Revoked token ${t.name} (${t.id}): it is refused from now on`);
    return 0;
  }
  throw new UsageError(USAGE);
}
