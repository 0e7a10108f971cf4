// The static Caddy configuration as data; test/ingress.test.ts loads it into a real Caddy.
import { describe, expect, it } from 'vitest';
import { caddyAppUrl, caddyFrontApps, HTTP_SERVER, HTTPS_SERVER, sameJson, type CaddyFrontConfigOptions } from './caddy-config.js';

const base: CaddyFrontConfigOptions = { ingressPort: 8080, askUrl: 'http://127.0.0.1:2020/ask', httpPort: 80, httpsPort: 443, tls: 'acme', gracePeriodS: 10 };
type Json = Record<string, any>;

describe('caddyFrontApps', () => {
  it('proxies every host to the ingress on loopback, over HTTPS, with a grace period', () => {
    const apps = caddyFrontApps(base) as Json;
    const server = apps.http.servers[HTTPS_SERVER];
    expect(server.listen).toEqual([':443']);
    expect(server.tls_connection_policies).toEqual([{}]);
    expect(server.routes).toHaveLength(1);
    expect(server.routes[0].match).toBeUndefined(); // every host
    expect(server.routes[0].handle).toEqual([expect.objectContaining({ handler: 'reverse_proxy', upstreams: [{ dial: '127.0.0.1:8080' }] })]);
    expect(apps.http.grace_period).toBe('10s');
  });

  it('asks the control plane before any certificate, in the form Caddy 2.6 and current Caddy both accept', () => {
    const apps = caddyFrontApps(base) as Json;
    expect(apps.tls.automation.on_demand).toEqual({ ask: 'http://127.0.0.1:2020/ask' });
    expect(apps.tls.automation.policies).toEqual([{ on_demand: true }]); // ACME: Caddy's default issuers
    expect((caddyFrontApps({ ...base, tls: 'internal' }) as Json).tls.automation.policies).toEqual([{ on_demand: true, issuers: [{ module: 'internal' }] }]);
    expect(apps.pki.certificate_authorities.local.install_trust).toBe(false);
  });

  it('redirects HTTP to HTTPS, naming the HTTPS port unless it is 443', () => {
    const location = (o: CaddyFrontConfigOptions) => (caddyFrontApps(o) as Json).http.servers[HTTP_SERVER].routes[0].handle[0].headers.Location;
    expect(location(base)).toEqual(['https://{http.request.host}{http.request.uri}']);
    expect(location({ ...base, httpPort: 8081, httpsPort: 8443 })).toEqual(['https://{http.request.host}:8443{http.request.uri}']);
    expect((caddyFrontApps({ ...base, httpPort: 8081 }) as Json).http.servers[HTTP_SERVER].listen).toEqual([':8081']);
  });

  it('depends on nothing but its options (no app, no route: deploys never change it)', () => {
    expect(caddyFrontApps(base)).toEqual(caddyFrontApps({ ...base }));
    expect(sameJson(caddyFrontApps(base), caddyFrontApps({ ...base, ingressPort: 8081 }))).toBe(false);
  });
});

describe('sameJson', () => {
  it('ignores key order (Caddy answers with sorted keys), not values or array order', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJson(null, {})).toBe(false);
  });
});

describe('caddyAppUrl', () => {
  it('is https and names the port unless it is 443', () => {
    expect(caddyAppUrl('app.example.com', 443)).toBe('https://app.example.com');
    expect(caddyAppUrl('app.example.com', 8443)).toBe('https://app.example.com:8443');
  });
});
