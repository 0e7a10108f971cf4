// The dashboard (packages/dashboard, built into its dist/) served at /ui/: its files, index.html for any other /ui/*
// path (the app routes in the browser), and GET / from a browser redirected there. Every /ui answer carries a
// Content-Security-Policy that allows scripts from this origin only, so injected markup cannot run inline script.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** packages/dashboard/dist, from src/http (tsx) and dist/http (compiled) alike. */
export const DEFAULT_DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dashboard', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** connect-src names the WebSocket origin explicitly: 'self' does not cover ws: in every browser. */
export function dashboardCsp(host: string | undefined): string {
  const ws = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${ws}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function securityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('content-security-policy', dashboardCsp(request.headers.host));
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('referrer-policy', 'no-referrer');
  void reply.header('x-frame-options', 'DENY');
}

/** Registers GET /, /ui and /ui/*; `dir` is the built dashboard (read on each request: a rebuild needs no restart). */
export function dashboardRoutes(opts: { dir?: string } = {}) {
  const dir = path.resolve(opts.dir ?? DEFAULT_DASHBOARD_DIR);
  return async (app: FastifyInstance): Promise<void> => {
    const sendIndex = async (request: FastifyRequest, reply: FastifyReply) => {
      securityHeaders(request, reply);
      let html: Buffer;
      try {
        html = await fs.readFile(path.join(dir, 'index.html'));
      } catch {
        return reply
          .code(503)
          .header('cache-control', 'no-store')
          .type('text/plain; charset=utf-8')
          .send('The dashboard has not been built yet: run `pnpm build` (or start the server with `pnpm start`, which builds it).\n');
      }
      return reply.header('cache-control', 'no-cache').type(TYPES['.html']!).send(html);
    };

    app.get('/', async (request, reply) => {
      // Browsers go to the dashboard; API clients asking for / keep the API's 404.
      if ((request.headers.accept ?? '').includes('text/html')) return reply.redirect('/ui/', 302);
      return reply.callNotFound();
    });
    app.get('/ui', async (_request, reply) => reply.redirect('/ui/', 301));
    app.get('/ui/', sendIndex);
    app.get('/ui/*', async (request, reply) => {
      const rel = (request.params as { '*': string })['*'];
      const file = path.resolve(dir, rel);
      // Odd targets (dot segments, backslashes) were refused before routing; this is the last guard.
      const inside = file.startsWith(dir + path.sep);
      const type = TYPES[path.extname(file)];
      if (inside && type && path.extname(file) !== '.html') {
        try {
          const body = await fs.readFile(file);
          securityHeaders(request, reply);
          // Vite names assets by content hash: they never change under one name.
          const immutable = rel.startsWith('assets/');
          return reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache').type(type).send(body);
        } catch {
          // not a file of the build: an asset path that does not exist is a 404, an app route gets index.html
          if (rel.startsWith('assets/')) {
            securityHeaders(request, reply);
            return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
          }
        }
      }
      return sendIndex(request, reply);
    });
  };
}
