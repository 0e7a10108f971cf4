// The default ingress: an in-process reverse proxy (http-proxy-3) that routes by Host header. The route table is a
// Map looked up once per request, so replacing an entry is atomic: a request already proxied keeps its target's
// socket and finishes there, the next request sees the new entry. No reload, no listener restart.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import {
  BAD_GATEWAY_BODY,
  copyRoute,
  IngressError,
  normalizeDomain,
  normalizeRoute,
  normalizeTable,
  NOT_FOUND_BODY,
  UNAVAILABLE_BODY,
  type Ingress,
  type IngressRoute,
  type RouteTarget,
} from './ingress.js';

export interface EmbeddedIngressOptions {
  port: number;
  host?: string;
  log?: Logger;
  /** How long stop() lets in-flight requests finish before cutting them. */
  shutdownGraceMs?: number;
}

export interface EmbeddedIngress extends Ingress {
  readonly kind: 'embedded';
  /** The bound port once started (differs from the option when it was 0). */
  readonly port: number;
}

interface Entry {
  route: IngressRoute;
  /** Round-robin cursor; lives with the entry so a route switch starts its own rotation. */
  next: number;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/** `Host: Example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  const host = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return host.replace(/\.$/, '') || undefined;
}

function targetUrl(t: RouteTarget): string {
  return `http://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

export function createEmbeddedIngress(opts: EmbeddedIngressOptions): EmbeddedIngress {
  const log = opts.log?.child({ module: 'ingress', ingress: 'embedded' });
  const graceMs = opts.shutdownGraceMs ?? 5_000;
  let table = new Map<string, Entry>();
  let boundPort = opts.port;

  // Keep-alive to targets: a polling client costs one TCP handshake per target, not one per request. Node honours
  // the target's `Keep-Alive: timeout=` hint, and `timeout` drops idle sockets from targets that send none.
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 30_000 });
  // Forwarded headers are set by hand (xfwd off): the ingress is the edge, so a client's own X-Forwarded-Host or
  // -Proto must not pass through as if the ingress had vouched for them.
  const proxy = createProxyServer({ agent, xfwd: false, ws: true, changeOrigin: false });
  // An EventEmitter 'error' with no listener would crash the process; every call also has its own callback.
  proxy.on('error', (err) => log?.debug({ err }, 'proxy error'));

  const upgraded = new Set<Duplex>();
  const server = http.createServer((req, res) => onRequest(req, res));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head));

  function lookup(req: http.IncomingMessage): { status: 404 | 503; body: string } | RouteTarget {
    const host = hostOf(req.headers.host);
    const entry = host === undefined ? undefined : table.get(host);
    if (!entry) return { status: 404, body: NOT_FOUND_BODY };
    const { targets } = entry.route;
    if (targets.length === 0) return { status: 503, body: UNAVAILABLE_BODY };
    const target = targets[entry.next % targets.length]!;
    entry.next = (entry.next + 1) % targets.length;
    return target;
  }

  function forwardedHeaders(req: http.IncomingMessage): void {
    const remote = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    req.headers['x-forwarded-for'] = prior ? `${String(prior)}, ${remote}` : remote;
    req.headers['x-forwarded-proto'] = 'http';
    req.headers['x-forwarded-host'] = req.headers.host ?? '';
  }

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const found = lookup(req);
    if ('status' in found) {
      res.writeHead(found.status, JSON_HEADERS).end(found.body);
      return;
    }
    forwardedHeaders(req);
    proxy.web(req, res, { target: targetUrl(found) }, (err) => {
      log?.warn({ err: (err as Error).message, host: req.headers.host, target: found }, 'target failed');
      if (!res.headersSent) res.writeHead(502, JSON_HEADERS).end(BAD_GATEWAY_BODY);
      else res.destroy();
    });
  }

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => log?.debug({ err }, 'upgraded client socket error'));
    const found = lookup(req);
    if ('status' in found) {
      const reason = found.status === 404 ? 'Not Found' : 'Service Unavailable';
      socket.end(
        `HTTP/1.1 ${found.status} ${reason}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(found.body)}\r\nconnection: close\r\n\r\n${found.body}`,
      );
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    forwardedHeaders(req);
    proxy.ws(req, socket, head, { target: targetUrl(found) }, (err) => {
      log?.warn({ err: (err as Error).message, host: req.headers.host, target: found }, 'websocket target failed');
      socket.destroy();
    });
  }

  return {
    kind: 'embedded',
    get port() {
      return boundPort;
    },

    async start() {
      if (server.listening) return;
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(new IngressError(`Ingress cannot listen on port ${opts.port}: ${err.message}`));
        server.once('error', onError);
        server.listen(opts.port, opts.host, () => {
          server.off('error', onError);
          boundPort = (server.address() as AddressInfo).port;
          resolve();
        });
      });
      log?.info({ port: boundPort }, 'embedded ingress listening');
    },

    async stop() {
      if (!server.listening) return;
      // WebSockets never finish on their own; clients reconnect to whatever serves next.
      for (const s of upgraded) s.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      agent.destroy();
    },

    async setRoute(route) {
      const r = normalizeRoute(route);
      table.set(r.domain, { route: r, next: 0 });
      log?.info({ domain: r.domain, appId: r.appId, targets: r.targets }, 'route set');
    },

    async removeRoute(domain) {
      const d = normalizeDomain(domain);
      table.delete(d);
      log?.info({ domain: d }, 'route removed');
    },

    async replaceAll(routes) {
      const next = new Map<string, Entry>();
      for (const [domain, route] of normalizeTable(routes)) next.set(domain, { route, next: 0 });
      table = next;
      log?.info({ routes: next.size }, 'routes replaced');
    },

    routes() {
      return [...table.values()].map((e) => copyRoute(e.route));
    },

    urlFor(domain) {
      return `http://${normalizeDomain(domain)}${boundPort === 80 ? '' : `:${boundPort}`}`;
    },
  };
}
