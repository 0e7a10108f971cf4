// Per-email back-off for password logins, on top of the per-client rate limit: a distributed guesser gets a few
// tries per address, then exponentially fewer. Every attempt counts as a failure until it succeeds, so concurrent
// guesses cannot slip past the count. Addresses that have no account are counted exactly like real ones, so the
// 429 reveals nothing about who is registered. In memory, bounded (least recently used addresses go first).

export interface LoginBackoffOptions {
  /** Failures allowed before the first wait (default 5). */
  freeFailures?: number;
  /** The first wait; each later failure doubles it (default 1 s). */
  baseMs?: number;
  /** The longest wait (default 15 minutes). */
  maxMs?: number;
  /** A record idle this long is forgotten (default 24 h). */
  forgetMs?: number;
  /** Addresses tracked at once (default 100,000). */
  maxKeys?: number;
}

interface Entry {
  failures: number;
  last: number;
  blockedUntil: number;
}

export class LoginBackoff {
  readonly #entries = new Map<string, Entry>();
  readonly #free: number;
  readonly #base: number;
  readonly #max: number;
  readonly #forget: number;
  readonly #maxKeys: number;

  constructor(o: LoginBackoffOptions = {}) {
    this.#free = o.freeFailures ?? 5;
    this.#base = o.baseMs ?? 1000;
    this.#max = o.maxMs ?? 15 * 60 * 1000;
    this.#forget = o.forgetMs ?? 24 * 3600 * 1000;
    this.#maxKeys = o.maxKeys ?? 100_000;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Before a password is checked: 0 to go ahead (the attempt is counted as a failure until `succeeded`), else the
   * seconds to wait. A refused attempt does not lengthen the wait.
   */
  attempt(email: string, now: number): number {
    let e = this.#entries.get(email);
    if (e && now - e.last > this.#forget && e.blockedUntil <= now) e = undefined;
    if (e && e.blockedUntil > now) return Math.max(1, Math.ceil((e.blockedUntil - now) / 1000));
    if (!e) e = { failures: 0, last: now, blockedUntil: 0 };
    this.#entries.delete(email); // re-inserted last: the map's order is least recently used first
    if (this.#entries.size >= this.#maxKeys) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(email, e);
    e.failures++;
    e.last = now;
    if (e.failures >= this.#free) e.blockedUntil = now + Math.min(this.#max, this.#base * 2 ** (e.failures - this.#free));
    return 0;
  }

  /** The password was right: the address starts over. */
  succeeded(email: string): void {
    this.#entries.delete(email);
  }
}
