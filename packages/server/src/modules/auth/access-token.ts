// Access tokens: HS256 JWTs built and checked with @oslojs/jwt + @oslojs/crypto. The algorithm is pinned: a token
// whose header names anything but HS256 is refused before its signature is looked at.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { hmac } from '@oslojs/crypto/hmac';
import { SHA256 } from '@oslojs/crypto/sha2';
import { constantTimeEqual } from '@oslojs/crypto/subtle';
import { createJWTSignatureMessage, encodeJWT, joseAlgorithmHS256, JWSRegisteredHeaders, JWTRegisteredClaims, parseJWT } from '@oslojs/jwt';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const ISSUER = 'cynchro';

export interface AccessClaims {
  userId: string;
  orgId: string;
  sessionId: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export class AccessTokenSigner {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error('The JWT signing key must be 32 bytes');
    this.#key = key;
  }

  /** The key lives in DATA_DIR (never the vault's master key): created once, 0600, reused across restarts. */
  static fromDataDir(dataDir: string): AccessTokenSigner {
    const file = path.join(dataDir, 'jwt-hs256.key');
    let key: Buffer;
    try {
      key = fs.readFileSync(file);
    } catch {
      key = randomBytes(32);
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      try {
        fs.writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
      } catch {
        key = fs.readFileSync(file); // another process won the race
      }
    }
    return new AccessTokenSigner(new Uint8Array(key));
  }

  sign(claims: { userId: string; orgId: string; sessionId: string }, nowMs: number): string {
    const iat = Math.floor(nowMs / 1000);
    const header = JSON.stringify({ alg: joseAlgorithmHS256, typ: 'JWT' });
    const payload = JSON.stringify({
      iss: ISSUER,
      sub: claims.userId,
      org: claims.orgId,
      sid: claims.sessionId,
      iat,
      exp: iat + ACCESS_TOKEN_TTL_SECONDS,
    });
    const signature = hmac(SHA256, this.#key, createJWTSignatureMessage(header, payload));
    return encodeJWT(header, payload, signature);
  }

  /** Returns the claims of a valid, unexpired token, or null. Never throws on bad input. */
  verify(token: string, nowMs: number): AccessClaims | null {
    if (token.length > 4096) return null;
    let header: object, payload: object, signature: Uint8Array, message: Uint8Array;
    try {
      [header, payload, signature, message] = parseJWT(token);
    } catch {
      return null;
    }
    try {
      const h = new JWSRegisteredHeaders(header);
      if (!h.hasAlgorithm() || h.algorithm() !== joseAlgorithmHS256) return null;
      const expected = hmac(SHA256, this.#key, message);
      if (signature.length !== expected.length || !constantTimeEqual(signature, expected)) return null;
      const c = new JWTRegisteredClaims(payload);
      if (!c.hasExpiration() || c.expiration().getTime() <= nowMs) return null;
      if (!c.hasIssuer() || c.issuer() !== ISSUER || !c.hasSubject()) return null;
      const p = payload as Record<string, unknown>;
      if (typeof p.org !== 'string' || typeof p.sid !== 'string') return null;
      return { userId: c.subject(), orgId: p.org, sessionId: p.sid, exp: Math.floor(c.expiration().getTime() / 1000) };
    } catch {
      return null;
    }
  }
}
