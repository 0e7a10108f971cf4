// Sliding-log limiter: at most `limit` hits per `windowMs` per key. Each key keeps at most `limit` timestamps and
// the map holds at most `maxKeys` keys (idle keys are swept; when full, the least recently used key goes), so
// memory is bounded by maxKeys × limit whatever a client sends.

export { clientKey } from '../lib/client-key.js';

export const DEFAULT_MAX_KEYS = 100_000;

export class RateLimiter {
  readonly #hits = new Map<string, number[]>();
  #lastSweep = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = DEFAULT_MAX_KEYS,
  ) {}

  /** Keys held now (for tests and metrics). */
  get size(): number {
    return this.#hits.size;
  }

  /** Records a hit. Returns 0 when allowed, else the seconds until the next hit would be allowed. */
  hit(key: string, now: number): number {
    this.#sweep(now);
    const since = now - this.windowMs;
    let log = this.#hits.get(key);
    if (log) this.#hits.delete(key); // re-inserted below: the map's order is least recently used first
    else {
      if (this.#hits.size >= this.maxKeys) this.#sweep(now, true);
      if (this.#hits.size >= this.maxKeys) this.#hits.delete(this.#hits.keys().next().value as string);
      log = [];
    }
    this.#hits.set(key, log);
    while (log.length && log[0]! <= since) log.shift();
    if (log.length >= this.limit) return Math.max(1, Math.ceil((log[0]! + this.windowMs - now) / 1000));
    log.push(now);
    return 0;
  }

  #sweep(now: number, force = false): void {
    if (!force && now - this.#lastSweep < this.windowMs) return;
    this.#lastSweep = now;
    for (const [k, log] of this.#hits) if (!log.length || log[log.length - 1]! <= now - this.windowMs) this.#hits.delete(k);
  }
}

