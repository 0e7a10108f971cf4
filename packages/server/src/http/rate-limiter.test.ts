import { describe, expect, it } from 'vitest';
import { clientKey, RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('allows `limit` hits per window per key, then answers the seconds to wait', () => {
    const l = new RateLimiter(3, 60_000);
    expect([l.hit('a', 0), l.hit('a', 1000), l.hit('a', 2000)]).toEqual([0, 0, 0]);
    expect(l.hit('a', 3000)).toBe(57);
    expect(l.hit('b', 3000)).toBe(0);
    expect(l.hit('a', 60_001)).toBe(0); // the first hit left the window
  });

  it('holds at most maxKeys keys whatever clients send, dropping the least recently used', () => {
    const l = new RateLimiter(2, 60_000, 100);
    l.hit('victim', 0);
    l.hit('victim', 1);
    for (let i = 0; i < 10_000; i++) {
      l.hit(`spray-${i}`, 2 + i / 1000);
      if (i % 50 === 0) expect(l.hit('victim', 2 + i / 1000)).toBeGreaterThan(0); // still limited: recently used
    }
    expect(l.size).toBeLessThanOrEqual(100);
  });

  it('sweeps idle keys to make room before evicting active ones', () => {
    const l = new RateLimiter(1, 1000, 3);
    l.hit('old-1', 0);
    l.hit('old-2', 0);
    l.hit('active', 5000);
    l.hit('new', 5001); // the two idle keys go, the active one stays
    expect(l.size).toBe(2);
    expect(l.hit('active', 5002)).toBeGreaterThan(0);
  });
});

describe('clientKey', () => {
  it('IPv4 as is; IPv4-mapped IPv6 as IPv4', () => {
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('::FFFF:192.0.2.7')).toBe('192.0.2.7');
  });

  it('IPv6 by its /64, whatever the spelling', () => {
    const k = clientKey('2001:db8:1:2::1');
    expect(k).toBe('2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::abcd', '[2001:db8:1:2::5]', 'fe80::1%eth0'.replace('fe80::1', '2001:db8:1:2::7')]) {
      expect(clientKey(same), same).toBe(k);
    }
    expect(clientKey('2001:db8:1:3::1')).not.toBe(k);
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::2:3:4:5:6:7:8')).toBe('0:2:3:4::/64');
  });

  it('anything else is its own key', () => {
    expect(clientKey('')).toBe('');
    expect(clientKey('not-an-ip')).toBe('not-an-ip');
  });
});
