// The one static Caddy configuration of INGRESS=caddy: Caddy terminates TLS (certificates on demand, each name first
// approved by the control plane's ask endpoint), redirects HTTP to HTTPS and hands every request, whatever its Host,
// to the ingress on loopback. Nothing in it depends on apps or routes, so a deploy never touches Caddy: a reload
// in Caddy 2.6 closes every proxied WebSocket of every app.
import { UNAVAILABLE_BODY } from './ingress.js';

export type CaddyJson = Record<string, unknown>;

export const HTTPS_SERVER = 'cynchro-https';
export const HTTP_SERVER = 'cynchro-http';
export const ASK_PATH = '/ask';

export interface CaddyFrontConfigOptions {
  /** Where the ingress listens (always on 127.0.0.1). */
  ingressPort: number;
  /** The control plane's ask endpoint, e.g. http://127.0.0.1:3001/ask. */
  askUrl: string;
  /** Caddy's plain HTTP port: redirects to HTTPS and ACME HTTP-01 challenges (Caddy answers those first). */
  httpPort: number;
  httpsPort: number;
  /** 'acme' (default): Let's Encrypt / ZeroSSL. 'internal': Caddy's own CA (tests, private networks). */
  tls: 'acme' | 'internal';
  /** How long a Caddy reload or stop lets requests in flight finish. */
  gracePeriodS: number;
}

const JSON_HEADER = { 'Content-Type': ['application/json; charset=utf-8'], 'Cache-Control': ['no-store'] };

/**
 * The ingress closes a kept-alive connection after 5 s idle (embedded-ingress DEFAULT_KEEP_ALIVE_TIMEOUT_MS). Caddy
 * drops its own idle upstream connections earlier, so it never sends a request on a socket the ingress is closing.
 */
const UPSTREAM_IDLE_TIMEOUT = '4s';

function proxyToIngress(ingressPort: number): CaddyJson {
  return {
    handler: 'reverse_proxy',
    upstreams: [{ dial: `127.0.0.1:${ingressPort}` }],
    // Caddy passes the client's Host header on unchanged by default, and sets X-Forwarded-For (the client's address
    // only: it trusts no incoming X-Forwarded-* unless told), X-Forwarded-Proto and X-Forwarded-Host.
    transport: {
      protocol: 'http',
      dial_timeout: '3s',
      keep_alive: { idle_timeout: UPSTREAM_IDLE_TIMEOUT },
    },
    // While the ingress restarts (its own process), a connection is refused: nothing was sent, so Caddy dials again
    // for up to 5 s instead of failing the request.
    load_balancing: { try_duration: '5s', try_interval: '100ms' },
  };
}

/** Every host is redirected; a host no app holds then fails the TLS handshake (the ask endpoint says no). */
function redirectToHttps(httpsPort: number): CaddyJson {
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return {
    handler: 'static_response',
    status_code: 308,
    headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] },
  };
}

/** Caddy's own answer when the ingress stays unreachable is an empty 502; say what the embedded proxy says instead. */
function unreachableIngress(): CaddyJson {
  return {
    routes: [
      {
        match: [{ expression: '{http.error.status_code} >= 502 && {http.error.status_code} <= 504' }],
        handle: [{ handler: 'static_response', status_code: 503, headers: { ...JSON_HEADER, 'Retry-After': ['1'] }, body: UNAVAILABLE_BODY }],
        terminal: true,
      },
    ],
  };
}

/**
 * The `apps` object Cynchro owns in Caddy's config (admin, logging and storage stay the operator's).
 *
 * On-demand TLS: `apps.tls.automation.on_demand.ask` is the form both Caddy 2.6 and current Caddy accept. Caddy 2.6
 * (modules/caddytls/automation.go, OnDemandConfig) knows only `ask` and `rate_limit`, and its strict JSON decoding
 * refuses any other key, so the newer `permission` module would fail to load there. Current Caddy
 * (modules/caddytls/ondemand.go) marks `ask` deprecated but still accepts it: TLS.Provision in
 * modules/caddytls/tls.go wraps it in the `tls.permission.http` module (PermissionByHTTP{Endpoint: ask}), and only
 * refuses a config that sets both. Either way Caddy sends GET <ask>?domain=<name> and issues only on a 2xx.
 */
export function caddyFrontApps(o: CaddyFrontConfigOptions): CaddyJson {
  const policy: CaddyJson = { on_demand: true };
  // Without issuers, Caddy's defaults apply: ACME (Let's Encrypt, then ZeroSSL).
  if (o.tls === 'internal') policy.issuers = [{ module: 'internal' }];
  return {
    http: {
      http_port: o.httpPort,
      https_port: o.httpsPort,
      grace_period: `${o.gracePeriodS}s`,
      servers: {
        [HTTPS_SERVER]: {
          listen: [`:${o.httpsPort}`],
          // TLS on this listener for any name; which names get a certificate is the on-demand policy's business.
          tls_connection_policies: [{}],
          // Slow clients: the headers within 20 s (as the ingress), idle kept-alive connections closed after 2 min.
          // No read/write timeout on bodies: uploads, downloads and WebSockets may last.
          read_header_timeout: '20s',
          idle_timeout: '2m',
          routes: [{ handle: [proxyToIngress(o.ingressPort)], terminal: true }],
          errors: unreachableIngress(),
          // There are no host matchers for Caddy to derive names from; the redirect server below does the redirects.
          automatic_https: { disable_redirects: true },
        },
        [HTTP_SERVER]: {
          listen: [`:${o.httpPort}`],
          read_header_timeout: '20s',
          idle_timeout: '2m',
          routes: [{ handle: [redirectToHttps(o.httpsPort)], terminal: true }],
        },
      },
    },
    tls: { automation: { on_demand: { ask: o.askUrl }, policies: [policy] } },
    // Caddy often runs as root: without this, using its internal CA would add that CA to the machine's trust store.
    pki: { certificate_authorities: { local: { install_trust: false } } },
  };
}

/** Key order aside (Caddy answers objects with sorted keys), two JSON values are equal. */
export function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as CaddyJson)[k])]))
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** What a browser opens for an app behind Caddy: `https://<domain>`, with the port unless it is 443. */
export function caddyAppUrl(domain: string, httpsPort: number): string {
  return `https://${domain}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
}
