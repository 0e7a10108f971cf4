// Per-process caches for the hot path of every authenticated request. Correctness rests on one fact: sessions are
// revoked only through AuthService in this process, which evicts them here at the same moment. The TTL is a
// safety net, not the revocation mechanism.
import type { AccessClaims } from './access-token.js';

export interface CachedSession {
  userId: string;
  orgId: string;
  email: string;
  name: string | null;
  userCreatedAt: string;
  expiresAt: string;
  cachedAt: number;
}

const MAX_ENTRIES = 10_000;
const SESSION_TTL_MS = 60_000;

function boundedSet<K, V>(map: Map<K, V>, key: K, value: V): void {
  if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as K); // oldest insertion first
  map.set(key, value);
}

export class AuthCache {
  readonly #claims = new Map<string, AccessClaims>();
  readonly #sessions = new Map<string, CachedSession>();

  claims(token: string, nowMs: number): AccessClaims | undefined {
    const c = this.#claims.get(token);
    if (c && c.exp * 1000 > nowMs) return c;
    if (c) this.#claims.delete(token);
    return undefined;
  }

  rememberClaims(token: string, claims: AccessClaims): void {
    boundedSet(this.#claims, token, claims);
  }

  session(id: string, nowMs: number): CachedSession | undefined {
    const s = this.#sessions.get(id);
    if (s && nowMs - s.cachedAt < SESSION_TTL_MS) return s;
    if (s) this.#sessions.delete(id);
    return undefined;
  }

  rememberSession(id: string, s: CachedSession): void {
    boundedSet(this.#sessions, id, s);
  }

  evictSession(id: string): void {
    this.#sessions.delete(id);
  }

  evictUser(userId: string, exceptSessionId?: string): void {
    for (const [id, s] of this.#sessions) if (s.userId === userId && id !== exceptSessionId) this.#sessions.delete(id);
  }
}
