// cynchro deployments <app> [--limit N] [--before CURSOR]: the release history, newest first.
// cynchro rollback <app> [--to DEPLOYMENT] [--wait] [--timeout S]: re-deploy an earlier release exactly (no rebuild).
import type { Deployment } from '@cynchro/sdk';
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { int, parseCommand } from './parse-command.js';
import { UsageError } from './usage-error.js';

function deploymentRow(d: Deployment): string[] {
  return [
    d.id,
    d.status,
    d.trigger + (d.rollbackOf ? ` of ${d.rollbackOf}` : ''),
    d.commit ? d.commit.slice(0, 12) : '',
    d.image ? d.image.replace(/^sha256:/, '').slice(0, 12) : '',
    d.createdAt,
    d.error ?? '',
  ];
}

export async function deploymentsCommand(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { limit: { type: 'string', short: 'n' }, before: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('usage: cynchro deployments <app> [--limit N] [--before CURSOR]');
  const limit = int(values.limit, '--limit');
  const c = ctx.client(values.url);
  const app = await c.apps.find(positionals[0]!);
  const page = await c.apps.deployments.page(app.id, { ...(limit !== undefined ? { limit } : {}), ...(values.before ? { before: values.before } : {}) });
  ctx.print(!!values.json, page, () => {
    const out = [page.deployments.length ? table(['ID', 'STATUS', 'TRIGGER', 'COMMIT', 'IMAGE', 'CREATED', 'ERROR'], page.deployments.map(deploymentRow)) : 'No deployments'];
    if (page.nextCursor) out.push(`More: cynchro deployments ${positionals[0]}${limit ? ` --limit ${limit}` : ''} --before ${page.nextCursor}`);
    return out.join('\n');
  });
  return 0;
}

export async function rollbackCommand(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { to: { type: 'string' }, wait: { type: 'boolean', short: 'w' }, timeout: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('usage: cynchro rollback <app> [--to DEPLOYMENT] [--wait] [--timeout SECONDS]');
  const timeout = int(values.timeout, '--timeout');
  const json = !!values.json;
  const c = ctx.client(values.url);
  const app = await c.apps.find(positionals[0]!);
  const h = await c.apps.rollback(app.id, values.to ? { deploymentId: values.to } : {});
  const summary = { appId: h.appId, deploymentId: h.deploymentId, status: h.status, rollbackOf: h.rollbackOf };
  const text = `Rolling ${app.name} back to the release of ${h.rollbackOf}: deployment ${h.deploymentId} queued`;
  if (!values.wait) {
    ctx.print(json, summary, () => text);
    return 0;
  }
  if (!json) ctx.io.out(text + '\n');
  const progress = (s: string) => (json ? ctx.io.err(s + '\n') : ctx.io.out(s + '\n'));
  const deployment = await h.wait({
    signal: ctx.io.signal,
    ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
    onLog: (l) => progress(`  ${l.stream === 'system' ? '' : `[${l.stream}] `}${l.text}`),
  });
  ctx.print(json, { ...summary, status: deployment.status, deployment }, () => `Rolled back: ${app.name} runs the release of ${h.rollbackOf} again (${deployment.id})`);
  return 0;
}
