import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('configuration', () => {
  it('takes APP_SUBNET_POOL with a /24 per app network by default, and no pool when unset', () => {
    expect(loadConfig({ APP_SUBNET_POOL: '10.213.0.0/16' }).appSubnets).toEqual({ pool: '10.213.0.0/16', prefix: 24 });
    expect(loadConfig({ APP_SUBNET_POOL: '10.213.0.0/16', APP_SUBNET_PREFIX: '26' }).appSubnets).toEqual({ pool: '10.213.0.0/16', prefix: 26 });
    expect(loadConfig({}).appSubnets).toBeUndefined();
  });

  it('refuses a pool that is not a network address or a prefix outside it, naming the variable', () => {
    expect(() => loadConfig({ APP_SUBNET_POOL: '10.213.1.0/16' })).toThrow(ConfigError);
    expect(() => loadConfig({ APP_SUBNET_POOL: '10.213.1.0/16' })).toThrow(/APP_SUBNET_POOL: .*did you mean 10\.213\.0\.0\/16/);
    expect(() => loadConfig({ APP_SUBNET_POOL: 'fd00::/64' })).toThrow(/APP_SUBNET_POOL: not an IPv4 CIDR/);
    expect(() => loadConfig({ APP_SUBNET_POOL: '10.213.0.0/24', APP_SUBNET_PREFIX: '16' })).toThrow(/between \/24 and \/29/);
  });
});
