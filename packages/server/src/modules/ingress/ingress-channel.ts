// The ingress process's control channel: HTTP over a Unix socket in DATA_DIR/ingress (0600, in a 0700 directory),
// every request carrying the shared bearer token. Each change is applied to the live table, then persisted, then
// confirmed: an answer of 200 means the ingress serves it and will serve it again after its own restart.
//
//   GET    /health            → {pid, routes, port, host, kind}
//   GET    /routes            → {routes}
//   PUT    /routes            {routes}   replace the whole table → {routes: n}
//   POST   /routes            {route}    set one route → {route}
//   DELETE /routes/<domain>              remove one (unknown: still 200) → {removed: bool}
//   POST   /shutdown                     answers, then the process stops
//
// Refusals: 401 unauthorized (missing or wrong token; nothing changes), 400 validation (bad JSON or route), 404,
// 405, 413; errors as {error, message}, the shape the rest of the platform answers with.
import fs from 'node:fs';
import http from 'node:http';
import type { Logger } from 'pino';
import { bearerToken, tokenMatches } from './ingress-token.js';
import { IngressError, normalizeDomain, type Ingress } from './ingress.js';
import { parseRoute, parseRoutes } from './route-body.js';
import type { RouteStore } from './route-store.js';

/** A whole table of a few thousand routes fits many times over. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface IngressChannelOptions {
  ingress: Ingress & { readonly port?: number };
  store: RouteStore;
  token: string;
  socketPath: string;
  log?: Logger;
  /** Called after the answer to POST /shutdown is sent. */
  onShutdown(): void;
  /** The address and kind the ingress serves with, reported by /health so a control plane can tell a stale one. */
  host?: string;
  kind?: 'embedded' | 'caddy';
}

export interface IngressChannel {
  start(): Promise<void>;
  stop(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'payload_too_large', `Body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? undefined : JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'validation', 'Body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null) throw new HttpError(400, 'validation', `Body must be a JSON object with "${name}"`);
  return (body as Record<string, unknown>)[name];
}

export function createIngressChannel(o: IngressChannelOptions): IngressChannel {
  const log = o.log?.child({ module: 'ingress-channel' });
  // Changes run one at a time, so what is persisted after each is exactly the table it left.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  };
  const persist = () => o.store.save(o.ingress.routes());

  async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown; after?: () => void }> {
    if (!tokenMatches(bearerToken(req.headers.authorization), o.token)) {
      throw new HttpError(401, 'unauthorized', 'A valid bearer token is required');
    }
    const url = new URL(req.url ?? '/', 'http://ingress');
    const method = req.method ?? 'GET';
    const p = url.pathname;
    if (p === '/health' && method === 'GET') {
      return { status: 200, body: { pid: process.pid, routes: o.ingress.routes().length, port: o.ingress.port, host: o.host ?? null, kind: o.kind ?? null } };
    }
    if (p === '/routes' && method === 'GET') return { status: 200, body: { routes: o.ingress.routes() } };
    if (p === '/routes' && method === 'PUT') {
      const routes = parseRoutes(field(await readBody(req), 'routes'));
      await serial(async () => {
        await o.ingress.replaceAll(routes);
        await persist();
      });
      return { status: 200, body: { routes: routes.length } };
    }
    if (p === '/routes' && method === 'POST') {
      const route = parseRoute(field(await readBody(req), 'route'));
      await serial(async () => {
        await o.ingress.setRoute(route);
        await persist();
      });
      return { status: 200, body: { route } };
    }
    if (p.startsWith('/routes/') && method === 'DELETE') {
      const domain = normalizeDomain(decodeURIComponent(p.slice('/routes/'.length)));
      const removed = await serial(async () => {
        const had = o.ingress.routes().some((r) => r.domain === domain);
        await o.ingress.removeRoute(domain);
        if (had) await persist();
        return had;
      });
      return { status: 200, body: { removed } };
    }
    if (p === '/shutdown' && method === 'POST') return { status: 200, body: { pid: process.pid }, after: o.onShutdown };
    if (['/health', '/routes', '/shutdown'].includes(p) || p.startsWith('/routes/')) throw new HttpError(405, 'method_not_allowed', `${method} ${p} is not allowed`);
    throw new HttpError(404, 'not_found', `No such operation: ${method} ${p}`);
  }

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, after?: () => void) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text, after);
    };
    handle(req).then(
      (r) => send(r.status, r.body, r.after),
      (err: unknown) => {
        if (err instanceof HttpError) return send(err.status, { error: err.code, message: err.message });
        if (err instanceof IngressError) return send(400, { error: 'validation', message: err.message });
        log?.error({ err }, 'control request failed');
        send(500, { error: 'internal', message: (err as Error).message });
      },
    );
  });

  return {
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      fs.chmodSync(o.socketPath, 0o600);
      log?.info({ socket: o.socketPath }, 'control channel listening');
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await chain;
    },
  };
}
