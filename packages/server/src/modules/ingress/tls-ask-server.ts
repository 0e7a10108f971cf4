// Caddy's on-demand TLS asks here before it obtains (or loads) a certificate: GET /ask?domain=<name> answers 200 only
// for a domain an app holds, so nobody can make Caddy request certificates for names of their choosing. It listens
// on loopback only, and refuses any other peer too (defense in depth, should it ever be bound wider).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ASK_PATH } from './caddy-config.js';

export interface TlsAskServerOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Whether an app (of any org) holds the domain (lower-case, without a trailing dot). */
  holds(domain: string): Promise<boolean>;
  log?: Logger;
}

export interface TlsAskServer {
  /** The bound port once started. */
  readonly port: number;
  /** The URL Caddy's `ask` points at. */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** The domain Caddy asks about, normalized, or undefined when it is missing or no hostname. */
export function askedDomain(url: string | undefined): string | undefined {
  const raw = new URL(url ?? '/', 'http://ask').searchParams.get('domain');
  const d = raw?.trim().toLowerCase().replace(/\.$/, '');
  return d && HOSTNAME.test(d) ? d : undefined;
}

export function tlsAskHandler(opts: Pick<TlsAskServerOptions, 'holds' | 'log'>): http.RequestListener {
  const answer = (res: http.ServerResponse, status: number) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${http.STATUS_CODES[status]}\n`);
  return (req, res) => {
    if (!isLoopback(req.socket.remoteAddress)) {
      opts.log?.warn({ peer: req.socket.remoteAddress }, 'tls ask refused: not a loopback peer');
      return answer(res, 403);
    }
    if (new URL(req.url ?? '/', 'http://ask').pathname !== ASK_PATH) return answer(res, 404);
    if (req.method !== 'GET') return answer(res, 405);
    const domain = askedDomain(req.url);
    if (!domain) return answer(res, 400);
    opts.holds(domain).then(
      (held) => {
        opts.log?.debug({ domain, held }, 'tls ask');
        answer(res, held ? 200 : 404);
      },
      (err: unknown) => {
        // Caddy denies on anything but 2xx, so a failed lookup never issues a certificate.
        opts.log?.error({ err, domain }, 'tls ask lookup failed');
        answer(res, 500);
      },
    );
  };
}

export function createTlsAskServer(opts: TlsAskServerOptions): TlsAskServer {
  const host = opts.host ?? '127.0.0.1';
  const server = http.createServer(tlsAskHandler(opts));
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  let port = opts.port;
  return {
    get port() {
      return port;
    },
    get url() {
      return `http://${host.includes(':') ? `[${host}]` : host}:${port}${ASK_PATH}`;
    },
    start: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new Error(`TLS ask endpoint cannot listen on ${host}:${opts.port}: ${err.message}`)));
        server.listen(opts.port, host, () => {
          port = (server.address() as AddressInfo).port;
          opts.log?.info({ url: `http://${host}:${port}${ASK_PATH}` }, 'tls ask endpoint listening');
          resolve();
        });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
