// Sliding-log limiter: at most `limit` hits per `windowMs` per key. Each key keeps at most `limit` timestamps,
// so memory is bounded by (active keys × limit); idle keys are swept.
export class RateLimiter {
  readonly #hits = new Map<string, number[]>();
  #lastSweep = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records a hit. Returns 0 when allowed, else the seconds until the next hit would be allowed. */
  hit(key: string, now: number): number {
    this.#sweep(now);
    const since = now - this.windowMs;
    let log = this.#hits.get(key);
    if (!log) this.#hits.set(key, (log = []));
    while (log.length && log[0]! <= since) log.shift();
    if (log.length >= this.limit) return Math.max(1, Math.ceil((log[0]! + this.windowMs - now) / 1000));
    log.push(now);
    return 0;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < this.windowMs) return;
    this.#lastSweep = now;
    for (const [k, log] of this.#hits) if (!log.length || log[log.length - 1]! <= now - this.windowMs) this.#hits.delete(k);
  }
}
