// The default ingress: an in-process reverse proxy (http-proxy-3) that routes by Host header. The route table is a
// Map looked up once per request, so replacing an entry is atomic: a request already proxied keeps its target's
// socket and finishes there, the next request sees the new entry. No reload, no listener restart.
//
// A route may list several targets (replicas). Requests rotate over them; a target that fails before answering is
// marked down for failDurationMs (see TargetRotation), and a request that can safely be sent again goes on to the
// next target, so a dead replica costs clients nothing.
//
// Slow clients and noisy neighbours: the server's header, request and keep-alive timeouts are set; an upgraded
// socket (a WebSocket) with no traffic either way for upgradeIdleTimeoutMs is closed, both sides; and one client
// address (an IPv6 client by its /64) holds at most maxConnectionsPerClient connections at once: one more is
// answered 429 rate_limited (the ingress's JSON shape) and closed.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import {
  BAD_GATEWAY_BODY,
  copyRoute,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAIL_DURATION_MS,
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
import { TargetRotation } from './target-rotation.js';
import { clientKey } from '../../lib/client-key.js';

export interface EmbeddedIngressOptions {
  port: number;
  host?: string;
  log?: Logger;
  /** How long stop() lets in-flight requests finish before cutting them. */
  shutdownGraceMs?: number;
  /** How long a target that failed before answering is skipped (passive health). Default 5 s. */
  failDurationMs?: number;
  /** A target that has not accepted the TCP connection by then counts as failed. Default 3 s, as Caddy's dial. */
  connectTimeoutMs?: number;
  /** An upgraded connection (WebSocket) with no traffic either way for this long is closed. Default 10 minutes. */
  upgradeIdleTimeoutMs?: number;
  /** Connections one client address (IPv6: its /64) may hold open at once; more are answered 429. Default 256. */
  maxConnectionsPerClient?: number;
  /** A request's headers must arrive within this (else the connection is cut). Default 20 s. */
  headersTimeoutMs?: number;
  /** A whole request (headers and body) must arrive within this (else 408). Default 5 minutes. */
  requestTimeoutMs?: number;
  /** A kept-alive connection idle between requests this long is closed. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /**
   * Peer addresses (exact, e.g. 127.0.0.1 and ::1 for a Caddy in front) whose X-Forwarded-For/-Proto/-Host are
   * believed and passed on; from any other peer they are overwritten. Default: none.
   */
  trustedProxies?: string[];
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so one configured address matches either socket family. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export const DEFAULT_UPGRADE_IDLE_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256;
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** A connection over the per-client cap that sends no request is cut after this. */
const REFUSED_GRACE_MS = 2_000;

export const TOO_MANY_CONNECTIONS_BODY = JSON.stringify({ error: 'rate_limited', message: 'Too many connections from this client' });

export interface EmbeddedIngress extends Ingress {
  readonly kind: 'embedded';
  /** The bound port once started (differs from the option when it was 0). */
  readonly port: number;
}

/** What one proxied attempt learned from http-proxy-3's events, which its error callback does not carry. */
interface Attempt {
  /** The request went out on a kept-alive connection: a reset then says the socket was stale, not the target dead. */
  reusedSocket: boolean;
  /** The target sent a response head: the request reached the app, so it is never sent again. */
  answered: boolean;
}

/** Only these may be sent to another target after a failure: the first target may have acted on the request. */
const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Failures before any answer: refused, reset or closed, or no connection within the connect timeout. */
const FAILED_BEFORE_ANSWER = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ECONNECT_TIMEOUT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ECONNABORTED',
]);

/**
 * Failures where no connection to the target was ever made: nothing listens there (a stopped container, a dockerd
 * going down), so the app has no instance to serve; answered 503 unavailable like a route with no targets, never
 * 502, which says a target took the request and failed it. A replayable request (no body, safe method) whose
 * connection was closed before any byte of an answer gets 503 too: behind Docker's userland proxy a dead container's
 * published port accepts the connection and closes it, which looks exactly like that. Only a request that may have
 * acted (a POST, a body) keeps 502 for such a close.
 */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ECONNECT_TIMEOUT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

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

/** A request without a body: sending it again cannot duplicate an upload, and there is nothing to buffer. */
function isReplayable(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  const bodyless = req.headers['transfer-encoding'] === undefined && (length === undefined || Number(length) === 0);
  return bodyless && REPLAYABLE_METHODS.has(req.method ?? '');
}

function errorCode(err: unknown): string {
  return String((err as { code?: unknown } | undefined)?.code ?? '');
}

/**
 * http-proxy-3 adds a 'close' listener on the response and an 'error' listener on the request per attempt; with up
 * to one attempt per replica that can pass Node's leak warning threshold without being a leak.
 */
function allowAnotherAttempt(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.setMaxListeners(req.getMaxListeners() + 1);
  res.setMaxListeners(res.getMaxListeners() + 1);
}

/** An agent that gives http-proxy-3 a connection already made, so an upgrade goes to the target that accepted it. */
function agentFor(socket: net.Socket): http.Agent {
  const agent = new http.Agent();
  agent.createConnection = () => socket;
  return agent;
}

function rawResponse(status: number, body: string, extra = ''): string {
  const reason = http.STATUS_CODES[status] ?? '';
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n${extra}` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/** Whom a connection counts against (see lib/client-key.ts). */
export function clientKeyOf(address: string | undefined): string {
  return address ? clientKey(address) : 'unknown';
}

export function createEmbeddedIngress(opts: EmbeddedIngressOptions): EmbeddedIngress {
  const log = opts.log?.child({ module: 'ingress', ingress: 'embedded' });
  const trustedProxies = new Set((opts.trustedProxies ?? []).map(plainAddress));
  const graceMs = opts.shutdownGraceMs ?? 5_000;
  const failDurationMs = opts.failDurationMs ?? DEFAULT_FAIL_DURATION_MS;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const upgradeIdleMs = opts.upgradeIdleTimeoutMs ?? DEFAULT_UPGRADE_IDLE_TIMEOUT_MS;
  const maxPerClient = opts.maxConnectionsPerClient ?? DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Node refuses a header timeout longer than the request timeout.
  const headersTimeout = Math.min(opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  let table = new Map<string, TargetRotation>();
  let boundPort = opts.port;

  // Keep-alive to targets: a polling client costs one TCP handshake per target, not one per request. Node honours
  // the target's `Keep-Alive: timeout=` hint, and `timeout` drops idle sockets from targets that send none.
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 30_000 });
  // Forwarded headers are set by hand (xfwd off): the ingress is the edge, so a client's own X-Forwarded-Host or
  // -Proto must not pass through as if the ingress had vouched for them.
  const proxy = createProxyServer({ agent, xfwd: false, ws: true, changeOrigin: false, connectTimeout: connectTimeoutMs });
  // An EventEmitter 'error' with no listener would crash the process; every call also has its own callback.
  proxy.on('error', (err) => log?.debug({ err }, 'proxy error'));
  const attempts = new WeakMap<http.ServerResponse, Attempt>();
  proxy.on('proxyReq', (proxyReq, _req, res) => {
    const attempt = attempts.get(res);
    if (attempt) attempt.reusedSocket = proxyReq.reusedSocket;
  });
  proxy.on('proxyRes', (proxyRes, _req, res) => {
    const attempt = attempts.get(res);
    if (attempt) attempt.answered = true;
    // http-proxy-3 leaves the client waiting forever when the target dies mid-answer; cutting the connection is the
    // only honest way left to say the answer is incomplete.
    proxyRes.once('close', () => {
      if (!proxyRes.complete) res.destroy();
    });
  });

  const upgraded = new Set<Duplex>();
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout,
      // How often Node looks for connections past those timeouts (its default, 30 s, would let them run long).
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => onRequest(req, res),
  );
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head));

  // Open connections per client key; a key goes with its last connection, so the map holds only open ones.
  const perClient = new Map<string, number>();
  /** Connections beyond their client's cap: each is answered 429 at its first request, then closed. */
  const refused = new WeakSet<object>();
  server.on('connection', (socket: net.Socket) => {
    // A trusted proxy (Caddy in front) carries every client's connections from one address: capping it would cap
    // all clients together. The proxy bounds its own clients.
    if (trustedProxies.has(plainAddress(socket.remoteAddress ?? ''))) return;
    const key = clientKeyOf(socket.remoteAddress);
    const open = (perClient.get(key) ?? 0) + 1;
    perClient.set(key, open);
    socket.once('close', () => {
      const left = (perClient.get(key) ?? 1) - 1;
      if (left > 0) perClient.set(key, left);
      else perClient.delete(key);
    });
    if (open > maxPerClient) {
      refused.add(socket);
      const cut = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS).unref();
      socket.once('close', () => clearTimeout(cut));
      log?.warn({ client: key, open, max: maxPerClient }, 'too many connections from one client; refusing');
    }
  });

  /** The targets this request tries, in order (see TargetRotation.order), or the answer when no app takes it. */
  function lookup(req: http.IncomingMessage): { status: 404 | 503; body: string } | { domain: string; targets: RouteTarget[] } {
    const domain = hostOf(req.headers.host);
    const rotation = domain === undefined ? undefined : table.get(domain);
    if (domain === undefined || !rotation) return { status: 404, body: NOT_FOUND_BODY };
    if (rotation.route.targets.length === 0) return { status: 503, body: UNAVAILABLE_BODY };
    return { domain, targets: rotation.order(Date.now()) };
  }

  /** Marks the target in the domain's current rotation: a route set meanwhile keeps the mark if it kept the target. */
  function markDown(domain: string, target: RouteTarget, err: unknown): void {
    table.get(domain)?.markDown(target, Date.now() + failDurationMs);
    log?.warn({ err: errorCode(err) || (err as Error).message, domain, target, forMs: failDurationMs }, 'target failed before answering; skipping it');
  }

  /**
   * What the app learns about its client. Only a trusted proxy (Caddy in front, with INGRESS=caddy) may say who the
   * client is and which scheme and host it used: its X-Forwarded-For chain gets this hop appended, its Proto and
   * Host are kept. From anyone else those headers are a client's claim, so they are replaced.
   */
  function forwardedHeaders(req: http.IncomingMessage): void {
    const remote = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    if (trustedProxies.has(plainAddress(remote))) {
      req.headers['x-forwarded-for'] = prior ? `${String(prior)}, ${remote}` : remote;
      req.headers['x-forwarded-proto'] ??= 'http';
      req.headers['x-forwarded-host'] ??= req.headers.host ?? '';
      return;
    }
    req.headers['x-forwarded-for'] = remote;
    req.headers['x-forwarded-proto'] = 'http';
    req.headers['x-forwarded-host'] = req.headers.host ?? '';
  }

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (refused.has(req.socket)) {
      const length = String(Buffer.byteLength(TOO_MANY_CONNECTIONS_BODY));
      res.writeHead(429, { ...JSON_HEADERS, 'content-length': length, 'retry-after': '1', connection: 'close' }).end(TOO_MANY_CONNECTIONS_BODY);
      return;
    }
    const found = lookup(req);
    if ('status' in found) {
      res.writeHead(found.status, JSON_HEADERS).end(found.body);
      return;
    }
    forwardedHeaders(req);
    proxyWeb(req, res, found.domain, found.targets, isReplayable(req));
  }

  /**
   * Proxies to targets[0]. When it fails before answering, a replayable request goes on to the next target (each
   * at most once); then 503 when the last target never accepted the connection or the request is replayable, else
   * 502.
   * `fresh`: a new connection, after a kept-alive one turned out stale.
   */
  function proxyWeb(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    domain: string,
    targets: RouteTarget[],
    replayable: boolean,
    fresh = false,
  ): void {
    const target = targets[0]!;
    const attempt: Attempt = { reusedSocket: false, answered: false };
    attempts.set(res, attempt);
    let settled = false;
    const options = {
      target: targetUrl(target),
      // req can be read only once; a replayable request has no body, so every attempt sends an empty one of its own.
      ...(replayable ? { buffer: Readable.from([]) } : {}),
      ...(fresh ? { agent: false } : {}),
    };
    proxy.web(req, res, options, (err) => {
      // Every attempt leaves an error listener on req; only this attempt's first failure is about this attempt.
      if (settled) return;
      settled = true;
      const clientGone = req.socket.destroyed;
      const beforeAnswer = !attempt.answered && !res.headersSent && !clientGone && FAILED_BEFORE_ANSWER.has(errorCode(err));
      const retry = (rest: RouteTarget[], freshConnection: boolean) => {
        allowAnotherAttempt(req, res);
        proxyWeb(req, res, domain, rest, replayable, freshConnection);
      };
      if (beforeAnswer && attempt.reusedSocket) {
        // The target closed an idle kept-alive socket as it was reused: that says nothing about its health.
        if (replayable) return retry(targets, true);
      } else if (beforeAnswer) {
        markDown(domain, target, err);
        if (replayable && targets.length > 1) return retry(targets.slice(1), false);
      }
      log?.warn({ err: (err as Error).message, host: req.headers.host, target }, 'target failed');
      if (res.headersSent) res.destroy();
      else if (beforeAnswer && (replayable || NEVER_CONNECTED.has(errorCode(err)))) res.writeHead(503, { ...JSON_HEADERS, 'retry-after': '1' }).end(UNAVAILABLE_BODY);
      else res.writeHead(502, JSON_HEADERS).end(BAD_GATEWAY_BODY);
    });
  }

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => log?.debug({ err }, 'upgraded client socket error'));
    if (refused.has(socket)) {
      socket.end(rawResponse(429, TOO_MANY_CONNECTIONS_BODY, 'retry-after: 1\r\n'));
      return;
    }
    const found = lookup(req);
    if ('status' in found) {
      socket.end(rawResponse(found.status, found.body));
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    forwardedHeaders(req);
    void connectFirst(found.domain, found.targets, socket).then((upstream) => {
      if (socket.destroyed) upstream?.socket.destroy();
      // connectFirst gives up only when no target accepted a connection: no instance to serve.
      else if (!upstream) socket.end(rawResponse(503, UNAVAILABLE_BODY, 'retry-after: 1\r\n'));
      else {
        proxy.ws(req, socket, head, { target: targetUrl(upstream.target), agent: agentFor(upstream.socket) }, (err) => {
          log?.warn({ err: (err as Error).message, host: req.headers.host, target: upstream.target }, 'websocket target failed');
          socket.destroy();
        });
        closeWhenIdle(socket, upstream.socket);
      }
    });
  }

  /**
   * Every byte between client and app passes through the client socket (read from it, or written to it), so its
   * idle timer sees traffic either way. Set after proxy.ws, which clears socket timeouts.
   */
  function closeWhenIdle(client: Duplex, upstream: net.Socket): void {
    const socket = client as Partial<net.Socket>;
    if (typeof socket.setTimeout !== 'function') return;
    socket.setTimeout(upgradeIdleMs, () => {
      log?.info({ idleMs: upgradeIdleMs }, 'closing an idle upgraded connection');
      client.destroy();
      upstream.destroy();
    });
  }

  /**
   * The first target that accepts a connection, marking the ones that do not. Nothing has gone upstream before the
   * connection exists, so any upgrade may try every target; the upgrade request then goes out on that connection.
   */
  async function connectFirst(
    domain: string,
    targets: RouteTarget[],
    client: Duplex,
  ): Promise<{ target: RouteTarget; socket: net.Socket } | undefined> {
    for (const target of targets) {
      if (client.destroyed) return undefined;
      try {
        return { target, socket: await connect(target) };
      } catch (err) {
        markDown(domain, target, err);
      }
    }
    return undefined;
  }

  function connect(t: RouteTarget): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: t.host, port: t.port });
      const timer = setTimeout(() => {
        const err = Object.assign(new Error(`no connection within ${connectTimeoutMs} ms`), { code: 'ECONNECT_TIMEOUT' });
        socket.destroy(err);
      }, connectTimeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        // The upgrade request adds its own listener; this one only keeps a later error from being unhandled.
        socket.on('error', (err) => log?.debug({ err }, 'upstream websocket socket error'));
        resolve(socket);
      });
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
      table.set(r.domain, new TargetRotation(r, table.get(r.domain)));
      log?.info({ domain: r.domain, appId: r.appId, targets: r.targets }, 'route set');
    },

    async removeRoute(domain) {
      const d = normalizeDomain(domain);
      table.delete(d);
      log?.info({ domain: d }, 'route removed');
    },

    async replaceAll(routes) {
      const next = new Map<string, TargetRotation>();
      for (const [domain, route] of normalizeTable(routes)) next.set(domain, new TargetRotation(route, table.get(domain)));
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
