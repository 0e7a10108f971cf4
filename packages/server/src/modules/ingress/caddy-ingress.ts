// INGRESS=caddy: routes live in Caddy (programmed through its admin API) and Caddy terminates TLS with automatic
// HTTPS. Cynchro owns one server, `apps.http.servers.cynchro`, whose routes array is one route per domain (each with
// an @id) followed by a catch-all 404. Calls are serialized here so two deployments never interleave read-then-write
// steps, and every write is one that can be resent safely.
//
// Every change is a full Caddy config reload. In-flight requests finish on the old config, but Caddy 2.6 reloads
// also close idle kept-alive client connections, reset connections still queued on the old listener, and close
// every proxied WebSocket (code 1001) — for all apps, not only the one that changed. Clients that resend a request
// whose connection was reset before any answer (browsers do for kept-alive connections) see no failure.
import type { Logger } from 'pino';
import { CaddyAdminClient, CaddyAdminError } from './caddy-admin-client.js';
import {
  caddyRoute,
  catchAllRoute,
  CATCH_ALL_ID,
  INTERNAL_TLS_POLICY_ID,
  internalTlsPolicy,
  routeId,
  ROUTES_PATH,
  SERVER_NAME,
  SERVER_PATH,
  serverConfig,
  serverErrors,
  type CaddyJson,
} from './caddy-config.js';
import {
  copyRoute,
  DEFAULT_FAIL_DURATION_MS,
  IngressError,
  normalizeDomain,
  normalizeRoute,
  normalizeTable,
  type Ingress,
  type IngressRoute,
} from './ingress.js';

export interface CaddyIngressOptions {
  adminUrl: string;
  /** Caddy's HTTP port (its HTTP→HTTPS redirects listen here). Left to Caddy's default (80) when omitted. */
  httpPort?: number;
  /** Where the cynchro server listens with TLS; default 443. */
  httpsPort?: number;
  /** 'acme' (default): Caddy's automatic HTTPS with public CAs. 'internal': Caddy's own CA, on demand (tests, LANs). */
  tls?: 'acme' | 'internal';
  log?: Logger;
  /** Replaces the admin transport (tests); by default each admin call is a plain node:http request of its own. */
  fetch?: typeof fetch;
  /** Per admin request. */
  timeoutMs?: number;
  /** How long Caddy skips an upstream of a multi-target route after it failed (passive health). Default 5 s. */
  failDurationMs?: number;
}

export interface CaddyIngress extends Ingress {
  readonly kind: 'caddy';
}

/** Key order aside: Caddy answers objects with sorted keys. */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as CaddyJson)[k])]))
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export function createCaddyIngress(opts: CaddyIngressOptions): CaddyIngress {
  const log = opts.log?.child({ module: 'ingress', ingress: 'caddy' });
  const admin = new CaddyAdminClient(opts.adminUrl, opts.fetch, opts.timeoutMs);
  const httpsPort = opts.httpsPort ?? 443;
  const tls = opts.tls ?? 'acme';
  const policy = { failDurationMs: opts.failDurationMs ?? DEFAULT_FAIL_DURATION_MS };
  const toCaddy = (r: IngressRoute) => caddyRoute(r, policy);
  let table = new Map<string, IngressRoute>();
  let started = false;

  let chain: Promise<unknown> = Promise.resolve();
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  }

  function requireStarted(): void {
    if (!started) throw new IngressError('Caddy ingress used before start()');
  }

  async function ensureInternalTls(): Promise<void> {
    // Without this, Caddy (running as root) would add its root CA to the machine's trust store.
    if (!(await admin.ensurePath(['apps', 'pki', 'certificate_authorities', 'local'], { install_trust: false }))) {
      await admin.request('POST', '/config/apps/pki/certificate_authorities/local/install_trust', false, { idempotent: true });
    }
    const policies = (await admin.get('/config/apps/tls/automation/policies')) as CaddyJson[] | null;
    if (policies === null) {
      await admin.ensurePath(['apps', 'tls', 'automation', 'policies'], [internalTlsPolicy()]);
    } else if (!policies.some((p) => p['@id'] === INTERNAL_TLS_POLICY_ID)) {
      // Last: a policy without subjects catches every name, so the operator's policies for specific names still
      // match first. The whole array in one PATCH, which can be resent safely.
      await admin.request('PATCH', '/config/apps/tls/automation/policies', [...policies, internalTlsPolicy()]);
    }
  }

  /** Cynchro's routes once each (a duplicate @id would shadow later changes), then the catch-all. */
  function tidy(routes: CaddyJson[], extra?: CaddyJson): CaddyJson[] {
    const seen = new Set<unknown>(extra ? [extra['@id']] : []);
    const kept = routes.filter((r) => {
      const id = r['@id'];
      if (id === CATCH_ALL_ID) return false;
      if (id === undefined) return true;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    return [...(extra ? [extra] : []), ...kept, catchAllRoute()];
  }

  async function ensureServer(): Promise<void> {
    await admin.ensurePath(['apps', 'http'], {});
    const idempotent = { idempotent: true };
    if (opts.httpPort !== undefined) await admin.request('POST', '/config/apps/http/http_port', opts.httpPort, idempotent);
    if (opts.httpsPort !== undefined) await admin.request('POST', '/config/apps/http/https_port', opts.httpsPort, idempotent);
    if (await admin.ensurePath(['apps', 'http', 'servers', SERVER_NAME], serverConfig(httpsPort))) return;
    // The server survives from an earlier run (Caddy keeps its config): keep its routes so apps stay up until
    // replaceAll() rebuilds them from the database, but make sure the listener, the error answers and the final
    // 404 are right.
    await admin.request('PATCH', `${SERVER_PATH}/listen`, serverConfig(httpsPort).listen);
    if (!sameJson(await admin.get(`${SERVER_PATH}/errors`), serverErrors())) {
      // POST on an object key sets it, whether or not it existed, so resending is harmless.
      await admin.request('POST', `${SERVER_PATH}/errors`, serverErrors(), { idempotent: true });
    }
    const routes = (await admin.get(ROUTES_PATH)) as CaddyJson[] | null;
    if (routes === null) {
      await admin.ensurePath(['apps', 'http', 'servers', SERVER_NAME, 'routes'], [catchAllRoute()]);
      return;
    }
    const tidied = tidy(routes);
    if (JSON.stringify(tidied) !== JSON.stringify(routes)) await admin.request('PATCH', ROUTES_PATH, tidied);
  }

  return {
    kind: 'caddy',

    start: () =>
      serial(async () => {
        if (tls === 'internal') await ensureInternalTls();
        await ensureServer();
        started = true;
        log?.info({ adminUrl: admin.baseUrl, httpsPort, tls }, 'caddy ingress ready');
      }),

    // Routes stay in Caddy on purpose: apps keep serving while the control plane restarts.
    async stop() {
      await chain;
      started = false;
    },

    setRoute: (route) =>
      serial(async () => {
        requireStarted();
        const r = normalizeRoute(route);
        const id = routeId(r.domain);
        try {
          // One config change: Caddy swaps the whole route in a single reload, so there is no moment without it.
          await admin.request('PATCH', `/id/${id}`, toCaddy(r));
        } catch (err) {
          if (!(err instanceof CaddyAdminError && err.unknownId)) throw err;
          // New domain: the whole array with the route added ahead of the catch-all, in one PATCH. Unlike a PUT
          // insert, resending it after a reset cannot leave two routes with the same @id.
          const routes = ((await admin.get(ROUTES_PATH)) ?? []) as CaddyJson[];
          await admin.request('PATCH', ROUTES_PATH, tidy(routes, toCaddy(r)));
        }
        table.set(r.domain, r);
        log?.info({ domain: r.domain, appId: r.appId, targets: r.targets }, 'route set');
      }),

    removeRoute: (domain) =>
      serial(async () => {
        requireStarted();
        const d = normalizeDomain(domain);
        try {
          await admin.request('DELETE', `/id/${routeId(d)}`);
        } catch (err) {
          if (!(err instanceof CaddyAdminError && err.unknownId)) throw err;
        }
        table.delete(d);
        log?.info({ domain: d }, 'route removed');
      }),

    replaceAll: (routes) =>
      serial(async () => {
        requireStarted();
        const next = normalizeTable(routes);
        // The whole array in one PATCH: one reload, and stale routes from an earlier run disappear with it.
        await admin.request('PATCH', ROUTES_PATH, [...[...next.values()].map(toCaddy), catchAllRoute()]);
        table = next;
        log?.info({ routes: next.size }, 'routes replaced');
      }),

    routes() {
      return [...table.values()].map(copyRoute);
    },

    urlFor(domain) {
      return `https://${normalizeDomain(domain)}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
    },
  };
}
