// Rate limits live inside the procedures: a procedure names its policy in its meta (`meta({ rateLimit: 'auth' })`)
// and the one middleware of every procedure (trpc.ts) counts each call, whatever the transport (/trpc, REST), the
// spelling of the path or the batch it came in. The key is the policy and the client (IPv4 address or IPv6 /64):
// procedures sharing a policy share one budget, as /auth always has.
import { clientKey, DEFAULT_MAX_KEYS, RateLimiter } from '../http/rate-limiter.js';
import type { Clock } from '../lib/clock.js';

export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

export const RATE_LIMITS = {
  /** Every /auth procedure and the operator claim: 30 calls per 5 minutes per client. */
  auth: { limit: 30, windowMs: 5 * 60 * 1000 },
} as const satisfies Record<string, RateLimitRule>;

export type RateLimitPolicy = keyof typeof RATE_LIMITS;

export class ProcedureLimiter {
  readonly #limiters = new Map<RateLimitPolicy, RateLimiter>();

  constructor(
    private readonly clock: Clock,
    rules: Partial<Record<RateLimitPolicy, RateLimitRule>> = {},
    maxKeys = DEFAULT_MAX_KEYS,
  ) {
    for (const policy of Object.keys(RATE_LIMITS) as RateLimitPolicy[]) {
      const r = rules[policy] ?? RATE_LIMITS[policy];
      this.#limiters.set(policy, new RateLimiter(r.limit, r.windowMs, maxKeys));
    }
  }

  /** Counts one call; 0 when allowed, else the seconds to wait. */
  hit(policy: RateLimitPolicy, ip: string): number {
    return this.#limiters.get(policy)!.hit(clientKey(ip), this.clock.now().getTime());
  }
}
