// The JSON Cynchro writes into Caddy. Every object it owns carries an `@id` starting with `cynchro-`, so the admin
// API's /id/ endpoints reach it directly and anything else in the operator's Caddy config is left alone.
import { NOT_FOUND_BODY, UNAVAILABLE_BODY, type IngressRoute, type RouteTarget } from './ingress.js';

export const SERVER_NAME = 'cynchro';
export const SERVER_PATH = `/config/apps/http/servers/${SERVER_NAME}`;
export const ROUTES_PATH = `${SERVER_PATH}/routes`;
export const CATCH_ALL_ID = 'cynchro-catch-all';
export const INTERNAL_TLS_POLICY_ID = 'cynchro-tls-internal';

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

export function caddyRoute(route: IngressRoute): CaddyJson {
  const handler: CaddyJson =
    route.targets.length === 0
      ? staticJson(503, UNAVAILABLE_BODY)
      : {
          handler: 'reverse_proxy',
          upstreams: route.targets.map((t) => ({ dial: dial(t) })),
          // Caddy's default policy is random; round-robin matches the embedded ingress.
          ...(route.targets.length > 1 ? { load_balancing: { selection_policy: { policy: 'round_robin' } } } : {}),
        };
  return { '@id': routeId(route.domain), match: [{ host: [route.domain] }], handle: [handler], terminal: true };
}

/** Last in the routes array: every host no app holds gets the same 404 body as the embedded ingress. */
export function catchAllRoute(): CaddyJson {
  return { '@id': CATCH_ALL_ID, handle: [staticJson(404, NOT_FOUND_BODY)], terminal: true };
}

export function serverConfig(httpsPort: number): CaddyJson {
  return { listen: [`:${httpsPort}`], routes: [catchAllRoute()] };
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
