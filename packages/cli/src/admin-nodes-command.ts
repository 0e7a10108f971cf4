// cynchro admin nodes: the machines apps run on (the one engine, or each node of the Swarm cluster), operators only.
import type { RuntimeNode } from '@cynchro/sdk';
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { parseCommand } from './parse-command.js';
import { formatBytes } from './stats-command.js';
import { UsageError } from './usage-error.js';

export function formatNodes(nodes: RuntimeNode[]): string {
  if (!nodes.length) return 'No nodes';
  return table(
    ['ID', 'HOSTNAME', 'ROLE', 'STATE', 'AVAILABILITY', 'CPUS', 'MEMORY', 'APPS'],
    nodes.map((n) => [n.id, n.hostname, n.role, n.state, n.availability, String(n.cpus), formatBytes(n.memoryMb * 1024 * 1024), String(n.apps)]),
  );
}

export async function adminNodesCommand(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {});
  if (positionals.length) throw new UsageError('usage: cynchro admin nodes');
  const nodes = await ctx.client(values.url).admin.nodes();
  // --json prints the API's answer as GET /admin/nodes gives it.
  ctx.print(!!values.json, { nodes }, () => formatNodes(nodes));
  return 0;
}
