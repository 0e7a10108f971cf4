import { describe, expect, it } from 'vitest';
import { DockerError } from './DockerError.js';
import { explainPoolExhaustion, formatCidr, overlaps, parseCidr, pickSubnet, validatePool } from './subnetPool.js';

describe('subnet pool', () => {
  it('parses and formats IPv4 CIDRs, normalizing to the network address', () => {
    expect(formatCidr(parseCidr('10.213.0.0/16')!)).toBe('10.213.0.0/16');
    expect(formatCidr(parseCidr('10.213.7.9/24')!)).toBe('10.213.7.0/24');
    expect(parseCidr('fd00::/64')).toBeUndefined();
    expect(parseCidr('10.300.0.0/16')).toBeUndefined();
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });

  it('tells overlapping ranges apart from adjacent ones', () => {
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.0.128/25')!)).toBe(true);
    expect(overlaps(parseCidr('10.0.0.0/16')!, parseCidr('10.0.5.0/24')!)).toBe(true);
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.1.0/24')!)).toBe(false);
  });

  it('picks the first free subnet, skipping every one a taken network overlaps, until the pool is full', () => {
    expect(pickSubnet('10.213.0.0/16', 24, [])).toBe('10.213.0.0/24');
    expect(pickSubnet('10.213.0.0/16', 24, ['10.213.0.0/24', '10.213.1.128/25', '172.17.0.0/16', 'fd00::/64'])).toBe('10.213.2.0/24');
    // A wide network over the start of the pool (an engine default pool's /20) takes everything under it.
    expect(pickSubnet('10.213.0.0/16', 24, ['10.213.0.0/20'])).toBe('10.213.16.0/24');
    expect(pickSubnet('10.213.0.0/23', 24, ['10.213.0.0/24', '10.213.1.0/24'])).toBeUndefined();
  });

  it('refuses a pool that is not a network address, and a prefix outside it', () => {
    expect(validatePool('10.213.0.0/16', 24)).toBeUndefined();
    expect(validatePool('10.213.1.0/16', 24)).toMatch(/did you mean 10\.213\.0\.0\/16/);
    expect(validatePool('nope', 24)).toMatch(/not an IPv4 CIDR/);
    expect(validatePool('10.213.0.0/16', 8)).toMatch(/between \/16 and \/29/);
    expect(validatePool('10.213.0.0/16', 30)).toMatch(/between \/16 and \/29/);
  });

  it('says what to set when the engine has no address pool left, and leaves other errors as they are', () => {
    // The engine's words when its default address pools are spent (moby libnetwork ipam).
    const spent = new DockerError('engine', 'create network cynchro-app_x: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    const explained = explainPoolExhaustion(spent) as DockerError;
    expect(explained).toBeInstanceOf(DockerError);
    expect(explained.code).toBe('engine');
    expect(explained.message).toContain(spent.message);
    expect(explained.message).toContain('set APP_SUBNET_POOL');
    expect(explained.cause).toBe(spent);
    const other = new DockerError('engine', 'create network x: permission denied');
    expect(explainPoolExhaustion(other)).toBe(other);
    const plain = new Error('non-overlapping IPv4 address pool');
    expect(explainPoolExhaustion(plain)).toBe(plain);
  });
});
