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

  it('RUNTIME=swarm wants a REGISTRY (host:port), credentials both or neither; docker is the default', () => {
    expect(loadConfig({}).runtime).toBe('docker');
    expect(() => loadConfig({ RUNTIME: 'swarm' })).toThrow(/REGISTRY: required with RUNTIME=swarm/);
    expect(() => loadConfig({ RUNTIME: 'swarm', REGISTRY: 'https://reg.example.com' })).toThrow(/REGISTRY: must be host:port/);
    expect(() => loadConfig({ RUNTIME: 'swarm', REGISTRY: 'reg.example.com:5000', REGISTRY_USERNAME: 'ci' })).toThrow(/give both or neither/);
    expect(() => loadConfig({ RUNTIME: 'kubernetes' })).toThrow(/RUNTIME/);
    const c = loadConfig({ RUNTIME: 'swarm', REGISTRY: 'reg.example.com:5000', REGISTRY_USERNAME: 'ci', REGISTRY_PASSWORD: 'pw', SWARM_OVERLAY_MTU: '1400' });
    expect(c).toMatchObject({ runtime: 'swarm', registry: { host: 'reg.example.com:5000', username: 'ci', password: 'pw' }, swarmPollMs: 1000, swarmOverlayMtu: 1400 });
    expect(() => loadConfig({ SWARM_OVERLAY_MTU: '100' })).toThrow(/SWARM_OVERLAY_MTU/);
  });
});
