// The choice of targets, without sockets; the ingresses' behaviour on real connections is in test/ingress.test.ts.
import { describe, expect, it } from 'vitest';
import type { IngressRoute, RouteTarget } from './ingress.js';
import { TargetRotation } from './target-rotation.js';

const A: RouteTarget = { host: '127.0.0.1', port: 1001 };
const B: RouteTarget = { host: '127.0.0.1', port: 1002 };
const C: RouteTarget = { host: '127.0.0.1', port: 1003 };
const name = (t: RouteTarget) => ({ 1001: 'A', 1002: 'B', 1003: 'C' })[t.port];
const route = (...targets: RouteTarget[]): IngressRoute => ({ domain: 'app.test', appId: 'app', targets });

/** The first choice of `n` requests in turn. */
function firsts(rotation: TargetRotation, n: number, now = 0): string[] {
  return Array.from({ length: n }, () => name(rotation.order(now)[0]!)!);
}

describe('TargetRotation', () => {
  it('round-robins, and offers every other target after the first as a fallback', () => {
    const r = new TargetRotation(route(A, B, C));
    expect(r.order(0).map(name)).toEqual(['A', 'B', 'C']);
    expect(r.order(0).map(name)).toEqual(['B', 'C', 'A']);
    expect(firsts(r, 4)).toEqual(['C', 'A', 'B', 'C']);
  });

  it('puts a marked target last while the mark lasts, and spreads requests evenly over the others', () => {
    const r = new TargetRotation(route(A, B, C));
    r.markDown(B, 1_000);
    expect(r.order(0).map(name)).toEqual(['A', 'C', 'B']);
    expect(firsts(r, 4)).toEqual(['C', 'A', 'C', 'A']);
    expect(r.isUp(B, 999)).toBe(false);
    expect(r.isUp(B, 1_000)).toBe(true);
    expect(firsts(r, 3, 1_000)).toEqual(['B', 'C', 'A']);
  });

  it('offers every target, in rotation, when all are marked', () => {
    const r = new TargetRotation(route(A, B));
    r.markDown(A, 1_000);
    r.markDown(B, 1_000);
    expect(r.order(0).map(name)).toEqual(['A', 'B']);
    expect(r.order(0).map(name)).toEqual(['B', 'A']);
  });

  it('keeps the marks of targets that stay in a new route, drops the others, and ignores targets it does not hold', () => {
    const old = new TargetRotation(route(A, B, C));
    old.markDown(B, 1_000);
    old.markDown(C, 1_000);
    const next = new TargetRotation(route(A, B), old);
    expect(next.isUp(B, 0)).toBe(false);
    const back = new TargetRotation(route(A, B, C), next);
    expect(back.isUp(C, 0)).toBe(true);

    back.markDown({ host: '127.0.0.1', port: 9 }, 1_000);
    expect(back.order(0)).toHaveLength(3);
  });
});
