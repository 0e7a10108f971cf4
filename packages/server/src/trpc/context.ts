import type { Services } from '../services.js';
import type { ProcedureLimiter } from './rate-limit.js';

export interface Context {
  services: Services;
  /** The token from `Authorization: Bearer …`; null when absent or not a Bearer header. */
  bearerToken: string | null;
  /** The client's address (X-Forwarded-For only from TRUST_PROXY addresses). */
  ip: string;
  /** Counts calls of procedures whose meta names a rate-limit policy. */
  limiter: ProcedureLimiter;
  /** Calls in the HTTP request this call came in (tRPC batches carry several; REST always one). */
  batchSize: number;
}

export function bearerFrom(header: string | string[] | undefined): string | null {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}
