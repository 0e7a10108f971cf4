// The JSON Cynchro writes into Caddy. Every object it owns carries an `@id` starting with `cynchro-`, so the admin
// API's /id/ endpoints reach it directly and anything else in the operator's Caddy config is left alone.
import {
  BAD_GATEWAY_BODY,
  DEFAULT_FAIL_DURATION_MS,
  NOT_FOUND_BODY,
  UNAVAILABLE_BODY,
  type IngressRoute,
  type RouteTarget,
} from './ingress.js';

export const SERVER_NAME = 'cynchro';
export const SERVER_PATH = `/config/apps/http/servers/${SERVER_NAME}`;
export const ROUTES_PATH = `${SERVER_PATH}/routes`;
export const CATCH_ALL_ID = 'cynchro-catch-all';
export const INTERNAL_TLS_POLICY_ID = 'cynchro-tls-internal';
export const BAD_GATEWAY_ID = 'cynchro-bad-gateway';

export type CaddyJson = Record<string, unknown>;

const JSON_HEADER = { 'Content-Type': ['application/json; charset=utf-8'], 'Cache-Control': ['no-store'] };

export function routeId(domain: string): string {
  return `cynchro-route-${domain.replace(/\./g, '_')}`;
}

function dial(t: RouteTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

function staticJson(status: number, body: string): CaddyJson {
  return { handler: 'static_response', status_code: status, headers: JSON_HEADER, body };
}

export interface ProxyPolicy {
  /** How long an upstream that failed a request is skipped (Caddy's passive health check). */
  failDurationMs: number;
}

export const DEFAULT_PROXY_POLICY: ProxyPolicy = { failDurationMs: DEFAULT_FAIL_DURATION_MS };

/**
 * What lets Caddy route around a dead replica, as the embedded ingress does:
 * - round_robin: Caddy's default policy is random.
 * - retries: one try per upstream and no wait between tries. Caddy resends any request after a failed dial (nothing
 *   was sent) and only GET after a connection that failed later.
 * - passive health: one failure takes the upstream out of the rotation for fail_duration. Caddy 2.6 never selects
 *   an upstream while it is marked, not even when all are (then it answers at once: 503, mapped to our 502 by
 *   serverErrors), and it forgets every mark on each config reload.
 * Left out for a single upstream: there is nothing to fail over to, and a mark would only delay its comeback.
 */
function balancing(targets: number, policy: ProxyPolicy): CaddyJson {
  if (targets < 2) return {};
  return {
    load_balancing: { selection_policy: { policy: 'round_robin' }, retries: targets - 1 },
    health_checks: { passive: { fail_duration: `${policy.failDurationMs}ms`, max_fails: 1 } },
  };
}

export function caddyRoute(route: IngressRoute, policy: ProxyPolicy = DEFAULT_PROXY_POLICY): CaddyJson {
  const handler: CaddyJson =
    route.targets.length === 0
      ? staticJson(503, UNAVAILABLE_BODY)
      : {
          handler: 'reverse_proxy',
          upstreams: route.targets.map((t) => ({ dial: dial(t) })),
          ...balancing(route.targets.length, policy),
        };
  return { '@id': routeId(route.domain), match: [{ host: [route.domain] }], handle: [handler], terminal: true };
}

/** Last in the routes array: every host no app holds gets the same 404 body as the embedded ingress. */
export function catchAllRoute(): CaddyJson {
  return { '@id': CATCH_ALL_ID, handle: [staticJson(404, NOT_FOUND_BODY)], terminal: true };
}

/**
 * The reverse proxy's failures (502 refused or reset, 503 no upstream left, 504 dial timeout) answered with the same
 * 502 body as the embedded ingress; Caddy's own error answer is an empty body.
 */
export function serverErrors(): CaddyJson {
  return {
    routes: [
      {
        '@id': BAD_GATEWAY_ID,
        match: [{ expression: '{http.error.status_code} >= 502 && {http.error.status_code} <= 504' }],
        handle: [staticJson(502, BAD_GATEWAY_BODY)],
        terminal: true,
      },
    ],
  };
}

export function serverConfig(httpsPort: number): CaddyJson {
  return { listen: [`:${httpsPort}`], routes: [catchAllRoute()], errors: serverErrors() };
}

/**
 * Certificates from Caddy's own CA, obtained on demand at the first handshake. Meant for tests and private networks:
 * any name gets a certificate at once, so a route is reachable over HTTPS as soon as it is set and an unknown host
 * reaches the 404 route instead of failing the handshake. (On demand with ACME would let anyone trigger issuance,
 * which is why the 'acme' mode leaves Caddy's default, eager issuance alone.)
 */
export function internalTlsPolicy(): CaddyJson {
  return { '@id': INTERNAL_TLS_POLICY_ID, issuers: [{ module: 'internal' }], on_demand: true };
}
