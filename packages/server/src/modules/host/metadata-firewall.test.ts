// Read back from the kernel, never by sending traffic to a metadata address. Needs root and the engine's
// DOCKER-USER chain, as on this project's test machines (scripts/test.sh starts dockerd).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureMetadataFirewall, METADATA_RANGE } from './metadata-firewall.js';

const rules = () => spawnSync('iptables', ['-S', 'DOCKER-USER'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(METADATA_RANGE));

describe('metadata firewall (DOCKER-USER)', () => {
  it('installs one REJECT rule for the metadata range, idempotently, ahead of the chain', async () => {
    const first = await ensureMetadataFirewall();
    expect(first.installed).toBe(true);
    const again = await ensureMetadataFirewall();
    expect(again).toEqual({ installed: true, already: true });
    const mine = rules();
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatch(/-A DOCKER-USER -d 169\.254\.0\.0\/16 .*-j REJECT/);
    const chain = spawnSync('iptables', ['-S', 'DOCKER-USER'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('-A'));
    expect(chain.findIndex((l) => l.includes(METADATA_RANGE))).toBeLessThan(chain.findIndex((l) => l.includes('-j RETURN')));
  });

  it('says why when it cannot install the rule', async () => {
    expect(await ensureMetadataFirewall(async () => ({ code: 0, stderr: '' }), false)).toEqual({ installed: false, reason: 'not running as root' });
    const noChain = await ensureMetadataFirewall(async (_cmd, args) => ({ code: 1, stderr: args[0] === '-S' ? 'iptables: No chain/target/match by that name.' : '' }), true);
    expect(noChain).toMatchObject({ installed: false, reason: expect.stringMatching(/no DOCKER-USER chain/) });
  });
});
