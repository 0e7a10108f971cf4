// Human output: plain aligned tables and key/value blocks.
import type { AppDetail, Secret } from '@cynchro/sdk';

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function formatAppDetail(d: AppDetail): string {
  const a = d.app;
  const out = [
    `${a.name} (${a.id})`,
    `  status:      ${a.status}${a.statusReason ? ` (${a.statusReason})` : ''}`,
    `  kind:        ${a.kind}`,
    `  url:         ${a.url}`,
    `  domain:      ${a.domain}`,
  ];
  if (a.repo) out.push(`  repo:        ${a.repo.url}#${a.repo.branch}${a.repo.hasToken ? ' (with token)' : ''}`);
  if (a.envKeys.length) out.push(`  env:         ${a.envKeys.join(', ')}`);
  if (a.envFrom.length) out.push(`  env from:    ${a.envFrom.join(', ')}`);
  if (a.secretFiles.length) out.push(`  secret files: ${a.secretFiles.join(', ')}`);
  for (const s of a.services) out.push(`  service ${s.name}: ${s.image ?? `build ${s.build?.dockerfile ?? ''}`}${s.port ? ` port ${s.port}` : ''}${s.replicas > 1 ? ` ×${s.replicas}` : ''}${s.url ? ` → ${s.url}` : ''}`);
  if (d.webhook) out.push(`  webhook:     ${d.webhook.url} (secret ${d.webhook.secret ?? 'hidden while sealed'})`);
  if (d.deployments.length) {
    out.push('  deployments:');
    for (const dep of d.deployments)
      out.push(`    ${dep.id}  ${dep.status.padEnd(9)}  ${dep.createdAt}  ${dep.trigger}${dep.commitSha ? ` ${dep.commitSha.slice(0, 7)}` : ''}${dep.error ? `  ${dep.error}` : ''}`);
  }
  return out.join('\n');
}

export function formatSecrets(secrets: Secret[]): string {
  if (!secrets.length) return 'No secrets';
  return table(['NAME', 'SCOPE', 'KEYS', 'UPDATED'], secrets.map((s) => [s.name, s.scope === 'app' ? `app ${s.appId}` : 'org', s.keys.join(','), s.updatedAt]));
}
