import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { dashboardCsp, dashboardRoutes } from './dashboard-routes.js';

const built = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-ui-'));
fs.mkdirSync(path.join(built, 'assets'));
fs.writeFileSync(path.join(built, 'index.html'), '<!doctype html><title>ui</title>');
fs.writeFileSync(path.join(built, 'assets', 'index-abc.js'), 'console.log(1)');
const missing = path.join(built, 'not-built');
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

async function server(dir: string) {
  const app = Fastify();
  await app.register(dashboardRoutes({ dir }));
  return app;
}

describe('dashboard routes', () => {
  it('serves index.html at /ui/ and for any app route, with the CSP and nosniff', async () => {
    const app = await server(built);
    for (const url of ['/ui/', '/ui/apps/app_1', '/ui/secrets']) {
      const r = await app.inject({ url, headers: { host: 'cp.example:3000' } });
      expect(r.statusCode, url).toBe(200);
      expect(r.body).toContain('<title>ui</title>');
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self';");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("connect-src 'self' ws://cp.example:3000 wss://cp.example:3000");
    }
  });

  it('serves hashed assets as immutable; a missing asset is 404, not the page', async () => {
    const app = await server(built);
    const js = await app.inject({ url: '/ui/assets/index-abc.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ url: '/ui/assets/gone.js' })).statusCode).toBe(404);
  });

  it('redirects browsers from / to /ui/; other clients of / are not redirected', async () => {
    const app = await server(built);
    const r = await app.inject({ url: '/', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(r.statusCode).toBe(302);
    expect(r.headers.location).toBe('/ui/');
    expect((await app.inject({ url: '/', headers: { accept: 'application/json' } })).statusCode).toBe(404);
    expect((await app.inject({ url: '/ui' })).headers.location).toBe('/ui/');
  });

  it('answers 503 with a clear message when the dashboard was not built', async () => {
    const app = await server(missing);
    const r = await app.inject({ url: '/ui/apps/x' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('pnpm build');
  });

  it('leaves a Host header that is not a plain host:port out of connect-src', () => {
    expect(dashboardCsp('evil.example; script-src *')).toContain("connect-src 'self';");
  });
});
