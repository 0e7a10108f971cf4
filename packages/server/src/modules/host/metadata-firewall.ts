// Containers must not reach the link-local metadata range (169.254.0.0/16: cloud instance metadata, which hands
// out the host's credentials). Docker routes container traffic through the DOCKER-USER chain before its own rules,
// so one REJECT there covers every container and every build on the engine. Installed only when running as root
// next to the engine; the outcome is logged at start either way.
import { spawn } from 'node:child_process';

export const METADATA_RANGE = '169.254.0.0/16';
const COMMENT = 'cynchro: no container reaches the metadata range';
const RULE = ['DOCKER-USER', '-d', METADATA_RANGE, '-m', 'comment', '--comment', COMMENT, '-j', 'REJECT', '--reject-with', 'icmp-net-unreachable'];

export type FirewallOutcome = { installed: true; already: boolean } | { installed: false; reason: string };

export interface Runner {
  (cmd: string, args: string[]): Promise<{ code: number; stderr: string }>;
}

export const runCommand: Runner = (cmd, args) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr: stderr.trim() }));
  });

/** Adds the rule unless it is there (idempotent across restarts and several control planes on one engine). */
export async function ensureMetadataFirewall(run: Runner = runCommand, isRoot = process.getuid?.() === 0): Promise<FirewallOutcome> {
  if (!isRoot) return { installed: false, reason: 'not running as root' };
  const check = await run('iptables', ['-C', ...RULE]);
  if (check.code === 0) return { installed: true, already: true };
  const chain = await run('iptables', ['-S', 'DOCKER-USER']);
  if (chain.code !== 0) return { installed: false, reason: chain.code === -1 ? `iptables is not available (${chain.stderr})` : `no DOCKER-USER chain (is dockerd running with iptables?): ${chain.stderr}` };
  const add = await run('iptables', ['-I', ...RULE]);
  if (add.code !== 0) return { installed: false, reason: `iptables refused the rule: ${add.stderr}` };
  return { installed: true, already: false };
}

export function describeFirewall(o: FirewallOutcome): string {
  return o.installed
    ? `containers cannot reach ${METADATA_RANGE} (DOCKER-USER rule ${o.already ? 'in place' : 'installed'})`
    : `WARNING: containers may reach ${METADATA_RANGE} (cloud metadata): ${o.reason}; add: iptables -I ${RULE.join(' ')}`;
}
