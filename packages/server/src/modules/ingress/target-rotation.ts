// The embedded ingress's choice of target for one domain: round-robin over the route's targets, skipping those
// marked down after a failed connection (passive health). A dead replica then costs one failed connection per
// failDuration instead of one per request. When every target is marked down none is skipped, because a marked
// target may be back (a restarted container) and answering 503 without trying would keep the app down until the
// marks expire.
import type { IngressRoute, RouteTarget } from './ingress.js';

export function targetKey(t: RouteTarget): string {
  return `${t.host}|${t.port}`;
}

export class TargetRotation {
  /** Round-robin cursor; lives with the rotation so a route switch starts its own. */
  #next = 0;
  /** targetKey → until when (epoch ms) the target is skipped. */
  readonly #downUntil: Map<string, number>;

  /**
   * `previous` is the rotation this one replaces for the same domain: marks of targets that stay are kept (a dead
   * replica is still dead after a route change), marks of targets that left are dropped, so a port reused by a new
   * container starts clean.
   */
  constructor(
    readonly route: IngressRoute,
    previous?: TargetRotation,
  ) {
    const kept = new Set(route.targets.map(targetKey));
    const marks = previous ? [...previous.#downUntil] : [];
    this.#downUntil = new Map(marks.filter(([key]) => kept.has(key)));
  }

  /**
   * Every target once, in the order one request should try them: targets that are up, from the round-robin
   * cursor on, then targets marked down (a last resort, and the only choice when all are down).
   * Advances the cursor past the first target, so requests spread evenly over the targets that are up.
   */
  order(now: number): RouteTarget[] {
    const { targets } = this.route;
    const rotated = targets.map((_, i) => targets[(this.#next + i) % targets.length]!);
    const up = rotated.filter((t) => this.isUp(t, now));
    const down = rotated.filter((t) => !this.isUp(t, now));
    const first = up[0] ?? rotated[0];
    if (first) this.#next = (targets.indexOf(first) + 1) % targets.length;
    return [...up, ...down];
  }

  /** Ignored for a target the route no longer holds: a late failure must not mark a port a new route reuses. */
  markDown(t: RouteTarget, until: number): void {
    const key = targetKey(t);
    if (this.route.targets.some((x) => targetKey(x) === key)) this.#downUntil.set(key, until);
  }

  isUp(t: RouteTarget, now: number): boolean {
    const key = targetKey(t);
    const until = this.#downUntil.get(key);
    if (until === undefined) return true;
    if (until > now) return false;
    this.#downUntil.delete(key);
    return true;
  }
}
