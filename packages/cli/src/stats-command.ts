// cynchro stats <app>: CPU, memory, restarts and uptime of each running replica of the app's current release, as
// the engine read them (the server reads it at most once every 2 s per app).
import type { AppStats } from '@cynchro/sdk';
import { CliContext } from './cli-context.js';
import { table } from './format.js';
import { parseCommand } from './parse-command.js';
import { UsageError } from './usage-error.js';

/** Bytes in binary units, as `docker stats` shows them (12.5MiB). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(v >= 100 ? 0 : 1)}${units[i]}`;
}

/** How long ago `iso` was, coarsely (45s, 12m, 3h, 2d). */
export function formatAge(iso: string, now: Date): string {
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '?';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function formatStats(stats: AppStats, now: Date): string {
  if (stats.services.every((s) => s.replicas.length === 0)) return 'No running replicas (the app is stopped or not deployed yet)';
  const rows = stats.services.flatMap((s) =>
    s.replicas.length
      ? s.replicas.map((r, i) => [
          s.name,
          String(i + 1),
          r.containerId.slice(0, 12),
          `${r.cpuPercent.toFixed(2)}%`,
          `${formatBytes(r.memoryBytes)} / ${formatBytes(r.memoryLimitBytes)}`,
          r.memoryLimitBytes > 0 ? `${((r.memoryBytes / r.memoryLimitBytes) * 100).toFixed(2)}%` : '-',
          String(r.restarts),
          formatAge(r.startedAt, now),
        ])
      : [[s.name, '-', '(none running)', '', '', '', '', '']],
  );
  return table(['SERVICE', 'REPLICA', 'CONTAINER', 'CPU', 'MEMORY / LIMIT', 'MEM', 'RESTARTS', 'UP'], rows);
}

export async function statsCommand(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {});
  if (positionals.length !== 1) throw new UsageError('usage: cynchro stats <app>');
  const c = ctx.client(values.url);
  const app = await c.apps.find(positionals[0]!);
  const stats = await c.apps.stats(app.id);
  ctx.print(!!values.json, stats, () => formatStats(stats, new Date()));
  return 0;
}
