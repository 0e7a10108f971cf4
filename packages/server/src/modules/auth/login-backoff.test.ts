import { describe, expect, it } from 'vitest';
import { LoginBackoff } from './login-backoff.js';

describe('LoginBackoff', () => {
  it('lets a few failures through, then makes each next one wait twice as long, up to the cap', () => {
    const b = new LoginBackoff({ freeFailures: 3, baseMs: 1000, maxMs: 8000 });
    let t = 0;
    expect([b.attempt('a', t), b.attempt('a', t), b.attempt('a', t)]).toEqual([0, 0, 0]);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const w = b.attempt('a', t);
      waits.push(w);
      t += w * 1000; // wait exactly as told, then try again
      expect(b.attempt('a', t)).toBe(0);
    }
    expect(waits).toEqual([1, 2, 4, 8, 8, 8]);
  });

  it('refused attempts do not lengthen the wait; success starts over; addresses are independent', () => {
    const b = new LoginBackoff({ freeFailures: 2, baseMs: 10_000 });
    b.attempt('a', 0);
    b.attempt('a', 0);
    expect(b.attempt('a', 1000)).toBe(9);
    expect(b.attempt('a', 5000)).toBe(5);
    expect(b.attempt('b', 5000)).toBe(0);
    expect(b.attempt('a', 10_000)).toBe(0);
    b.succeeded('a');
    expect(b.attempt('a', 10_001)).toBe(0);
  });

  it('forgets an address idle for forgetMs; holds at most maxKeys addresses', () => {
    const b = new LoginBackoff({ freeFailures: 1, baseMs: 1000, maxMs: 1000, forgetMs: 60_000, maxKeys: 50 });
    b.attempt('a', 0);
    expect(b.attempt('a', 500)).toBe(1);
    b.attempt('a', 1000); // second failure: blocked until 2000
    expect(b.attempt('a', 70_000)).toBe(0); // idle over a minute: a fresh start
    for (let i = 0; i < 1000; i++) b.attempt(`spray-${i}@example.com`, 80_000);
    expect(b.size).toBeLessThanOrEqual(50);
  });
});
