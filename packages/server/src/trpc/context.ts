import type { Services } from '../services.js';

export interface Context {
  services: Services;
  /** The token from `Authorization: Bearer …`; null when absent or not a Bearer header. */
  bearerToken: string | null;
  ip: string;
}

export function bearerFrom(header: string | string[] | undefined): string | null {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}
