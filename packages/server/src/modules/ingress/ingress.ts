// The contract both ingresses implement. The deployment pipeline talks only to `Ingress`, so switching between the
// embedded proxy and Caddy is a configuration choice, never a code path in the pipeline.

export interface RouteTarget {
  host: string;
  port: number;
}

export interface IngressRoute {
  domain: string;
  appId: string;
  /** Empty when the app has nothing healthy: the ingress answers 503 instead of 404. */
  targets: RouteTarget[];
}

export interface Ingress {
  readonly kind: 'embedded' | 'caddy';
  start(): Promise<void>;
  /** Lets go of the ingress; one running as its own process keeps serving (see shutdown). */
  stop(): Promise<void>;
  /** Only where the ingress outlives stop() (its own process): ends it too, for a stop on purpose. */
  shutdown?(): Promise<void>;
  /** Atomically replace (or create) the route for one domain. */
  setRoute(route: IngressRoute): Promise<void>;
  removeRoute(domain: string): Promise<void>;
  /** Replace the whole table (used on server start to rebuild routes from the DB). */
  replaceAll(routes: IngressRoute[]): Promise<void>;
  routes(): IngressRoute[];
  /** The URL a browser opens for this domain. */
  urlFor(domain: string): string;
}

/** Infrastructure failure (bad route, Caddy unreachable or refusing a config): the caller decides what fails. */
export class IngressError extends Error {
  override name = 'IngressError';
}

/** The bodies both ingresses answer with when no app takes the request, so clients see one shape. */
export const NOT_FOUND_BODY = JSON.stringify({ error: 'not_found', message: 'No app is served at this host' });
export const UNAVAILABLE_BODY = JSON.stringify({ error: 'unavailable', message: 'The app has no healthy instance' });
export const BAD_GATEWAY_BODY = JSON.stringify({ error: 'bad_gateway', message: 'The app did not answer' });

/** How long a target that failed before answering is skipped, in both ingresses (passive health). */
export const DEFAULT_FAIL_DURATION_MS = 5_000;
/** How long the embedded ingress waits for a target to accept a connection; Caddy's default dial timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

const HOSTNAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Lower-cases and drops a trailing dot so `Example.COM.` and `example.com` are one route. */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (d.length > 253 || !HOSTNAME.test(d)) throw new IngressError(`Invalid domain: ${JSON.stringify(domain)}`);
  return d;
}

/** Validates and copies a route, so later mutation by the caller cannot change a live table. */
export function normalizeRoute(route: IngressRoute): IngressRoute {
  const targets = route.targets.map((t) => {
    if (!t.host || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
      throw new IngressError(`Invalid target for ${route.domain}: ${JSON.stringify(t)}`);
    }
    return { host: t.host, port: t.port };
  });
  return { domain: normalizeDomain(route.domain), appId: route.appId, targets };
}

/** Last one wins for a repeated domain, as if each were set in turn. */
export function normalizeTable(routes: IngressRoute[]): Map<string, IngressRoute> {
  const table = new Map<string, IngressRoute>();
  for (const r of routes) {
    const n = normalizeRoute(r);
    table.set(n.domain, n);
  }
  return table;
}

export function copyRoute(r: IngressRoute): IngressRoute {
  return { domain: r.domain, appId: r.appId, targets: r.targets.map((t) => ({ ...t })) };
}
