// APP_SUBNET_POOL on the real engine: each network takes its own /24 of the pool, concurrent creators end up with
// different ones, an existing name is found again, and a full pool is an error that says so.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, DockerError, parseCidr } from '../src/index.js';
import { docker, runLabels } from './helpers/engine.js';

const labels = runLabels();
// A /22 of its own per run (four /24s), so runs side by side do not share a pool.
const pool = `10.214.${4 * (randomBytes(1)[0]! % 64)}.0/22`;
const d = createDockerodeDriver({ subnetPool: pool, subnetPrefix: 24 });
const name = (tag: string) => `cyn-pool-${tag}-${randomBytes(4).toString('hex')}`;

async function subnetOf(id: string): Promise<string> {
  const info = await docker.getNetwork(id).inspect();
  return String(info.IPAM?.Config?.[0]?.Subnet);
}

afterAll(async () => {
  await d.removeByLabels(labels);
  await d.close();
});

describe('app networks from a subnet pool', () => {
  it('gives concurrent networks distinct /24s of the pool, finds an existing one again, and says when the pool is full', async () => {
    const range = parseCidr(pool)!;
    const names = [name('a'), name('b'), name('c')];
    const ids = await Promise.all(names.map((n) => d.ensureNetwork(n, labels)));
    const subnets = await Promise.all(ids.map(subnetOf));
    expect(new Set(subnets).size).toBe(3);
    for (const s of subnets) {
      const c = parseCidr(s)!;
      expect(c.prefix).toBe(24);
      expect(c.base >= range.base && c.base < range.base + 1024, `${s} in ${pool}`).toBe(true);
    }
    expect(await d.ensureNetwork(names[0]!, labels)).toBe(ids[0]);

    await d.ensureNetwork(name('d'), labels); // the fourth and last /24
    const full = await d.ensureNetwork(name('e'), labels).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(DockerError);
    expect((full as DockerError).message).toContain(`no free /24 left in APP_SUBNET_POOL ${pool}`);
  });
});
