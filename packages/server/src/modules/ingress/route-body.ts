// Routes as they arrive from outside the process (the control channel, the route file): checked for shape here,
// then validated by normalizeRoute, so every refusal is an IngressError with a message a person can act on.
import { IngressError, normalizeRoute, type IngressRoute } from './ingress.js';

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function parseRoute(x: unknown, where = 'route'): IngressRoute {
  if (!isObject(x)) throw new IngressError(`${where} must be an object {domain, appId, targets}`);
  if (typeof x.domain !== 'string') throw new IngressError(`${where}.domain must be a string`);
  if (typeof x.appId !== 'string' || x.appId === '') throw new IngressError(`${where}.appId must be a non-empty string`);
  if (!Array.isArray(x.targets)) throw new IngressError(`${where}.targets must be an array of {host, port}`);
  const targets = x.targets.map((t, i) => {
    if (!isObject(t) || typeof t.host !== 'string' || typeof t.port !== 'number') {
      throw new IngressError(`${where}.targets[${i}] must be {host: string, port: number}`);
    }
    return { host: t.host, port: t.port };
  });
  return normalizeRoute({ domain: x.domain, appId: x.appId, targets });
}

export function parseRoutes(x: unknown): IngressRoute[] {
  if (!Array.isArray(x)) throw new IngressError('routes must be an array');
  return x.map((r, i) => parseRoute(r, `routes[${i}]`));
}
