// Sliding-log limiter: at most `limit` hits per `windowMs` per key. Each key keeps at most `limit` timestamps and
// the map holds at most `maxKeys` keys (idle keys are swept; when full, the least recently used key goes), so
// memory is bounded by maxKeys × limit whatever a client sends.
import net from 'node:net';

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

/**
 * The key a client is limited by: its IPv4 address, or the /64 of an IPv6 address (one subscriber usually holds a
 * whole /64, so per-address keys would let it rotate through 2^64 of them). IPv4-mapped IPv6 counts as IPv4.
 */
export function clientKey(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(bare)) return bare;
  const groups = expandIPv6(bare);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : bare;
}

/** The eight 16-bit groups of an IPv6 address, lower-case without leading zeros; null when it does not parse. */
function expandIPv6(addr: string): string[] | null {
  let s = addr.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4 forms other than the mapped one, ::1.2.3.4) becomes two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.map((g) => parseInt(g || '0', 16).toString(16));
}
