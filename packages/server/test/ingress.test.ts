// One contract, two ingresses: the same suite runs against the embedded proxy and a real Caddy (internal CA, HTTPS),
// with tiny Node backends on loopback ports standing in for app containers.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { CaddyAdminError } from '../src/modules/ingress/caddy-admin-client.js';
import { CATCH_ALL_ID, routeId, ROUTES_PATH } from '../src/modules/ingress/caddy-config.js';
import { createCaddyIngress } from '../src/modules/ingress/caddy-ingress.js';
import { createIngress } from '../src/modules/ingress/create-ingress.js';
import { createEmbeddedIngress, hostOf, type EmbeddedIngress } from '../src/modules/ingress/embedded-ingress.js';
import { IngressError, type Ingress, type RouteTarget } from '../src/modules/ingress/ingress.js';
import { freePort, startCaddy, type CaddyProcess } from './caddy-process.js';

// ---------------------------------------------------------------------------------------------------------------
// Backends and clients

interface Backend {
  name: string;
  target: RouteTarget;
  close(): Promise<void>;
}

interface Echo {
  backend: string;
  path: string;
  host?: string;
  xff?: string;
  xfp?: string;
  xfh?: string;
}

async function startBackend(name: string): Promise<Backend> {
  const server = http.createServer((req, res) => {
    const reply = () => {
      const echo: Echo = {
        backend: name,
        path: req.url ?? '',
        host: req.headers.host,
        xff: req.headers['x-forwarded-for'] as string | undefined,
        xfp: req.headers['x-forwarded-proto'] as string | undefined,
        xfh: req.headers['x-forwarded-host'] as string | undefined,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echo));
    };
    const slow = /^\/slow\?ms=(\d+)/.exec(req.url ?? '');
    if (slow) setTimeout(reply, Number(slow[1]));
    else reply();
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (sock) => sock.on('message', (data) => sock.send(`${name}:${String(data)}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    target: { host: '127.0.0.1', port },
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Reply {
  status: number;
  body: string;
  json<T = Echo>(): T;
  /** How many times the request was resent because its connection was reset before any answer. */
  retried: number;
}

interface GetOptions {
  agent?: http.Agent;
  headers?: Record<string, string>;
  /**
   * Resend when the connection was reset before any byte of an answer: a kept-alive connection the server
   * closed as idle (Node's documented `req.reusedSocket` case; browsers and curl resend by themselves), or a new
   * connection the server never accepted. Either way the server never saw the request.
   */
  retryReset?: boolean;
}

let seq = 0;
const runTag = `${process.pid}-${Date.now().toString(36)}`;
/** Unique per test run, so a Caddy or ingress left from another run can never answer for it. */
function uniqueDomain(tag: string): string {
  return `${tag}-${runTag}-${++seq}.cynchro.test`;
}

/** How a test reaches one ingress: the transport differs (HTTP vs HTTPS with SNI), the assertions do not. */
interface IngressUnderTest {
  ingress: Ingress;
  scheme: 'http' | 'https';
  get(domain: string, path?: string, opts?: GetOptions): Promise<Reply>;
  /** A keep-alive agent of the right kind, as a polling browser would hold. */
  keepAliveAgent(): http.Agent;
  ws(domain: string): WebSocket;
  /** Resolves any name to 127.0.0.1, so a URL from urlFor() can be opened as-is. */
  open(url: string): Promise<Reply>;
  close(): Promise<void>;
}

function collect(req: http.ClientRequest): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body), retried: 0 }));
      res.on('error', reject);
    });
    req.on('error', (err: Error & { code?: string }) =>
      reject(Object.assign(err, { reset: !answered && err.code === 'ECONNRESET' })),
    );
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.end();
  });
}

/** Up to two resends: one Caddy reload can reset a kept-alive connection and, at the same instant, the reconnection. */
async function send(make: () => http.ClientRequest, retryReset = false): Promise<Reply> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { ...(await collect(make())), retried: attempt };
    } catch (err) {
      if (!retryReset || attempt === 2 || !(err as { reset?: boolean }).reset) throw err;
    }
  }
}

const toLoopback: NonNullable<http.RequestOptions['lookup']> = ((
  _host: string,
  opts: { all?: boolean },
  cb: (err: Error | null, address: string | Array<{ address: string; family: number }>, family?: number) => void,
) => (opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4))) as never;

async function embeddedUnderTest(): Promise<IngressUnderTest> {
  const ingress = createEmbeddedIngress({ port: 0, host: '127.0.0.1' });
  await ingress.start();
  const port = ingress.port;
  return {
    ingress,
    scheme: 'http',
    get: (domain, path = '/', opts = {}) =>
      send(
        () => http.request({ host: '127.0.0.1', port, path, agent: opts.agent ?? false, headers: { ...opts.headers, host: domain } }),
        opts.retryReset,
      ),
    keepAliveAgent: () => new http.Agent({ keepAlive: true }),
    ws: (domain) => new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: domain } }),
    open: (url) => collect(http.request(url, { lookup: toLoopback, agent: false })),
    close: () => ingress.stop(),
  };
}

async function caddyUnderTest(caddy: CaddyProcess): Promise<IngressUnderTest> {
  const ingress = createCaddyIngress({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, tls: 'internal' });
  await ingress.start();
  const port = caddy.httpsPort;
  return {
    ingress,
    scheme: 'https',
    get: (domain, path = '/', opts = {}) =>
      send(
        () =>
          https.request({
          host: '127.0.0.1',
          port,
          path,
          servername: domain,
          rejectUnauthorized: false, // Caddy's internal CA is not in the trust store, on purpose.
          agent: opts.agent ?? false,
          headers: { ...opts.headers, host: domain },
        }),
        opts.retryReset,
      ),
    keepAliveAgent: () => new https.Agent({ keepAlive: true }),
    ws: (domain) =>
      new WebSocket(`wss://127.0.0.1:${port}/`, {
        headers: { host: domain },
        servername: domain,
        rejectUnauthorized: false,
      } as WebSocket.ClientOptions & https.RequestOptions),
    open: (url) => collect(https.request(url, { lookup: toLoopback, agent: false, rejectUnauthorized: false })),
    close: () => ingress.stop(),
  };
}

function wsOpen(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
}

function wsRoundTrip(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// The shared contract

export function ingressContract(name: string, factory: () => Promise<IngressUnderTest>, tuning: {
    switches: number;
    pauseMs: number;
    /**
     * Connection resets a switch may cause, each answered by a resend. The embedded table swap causes none.
     * Every Caddy route change is a config reload, and Caddy 2.6 reloads (a) close idle kept-alive client
     * connections and (b) open a new SO_REUSEPORT listener and close the old one, resetting connections still
     * queued on it. No request is lost to the app, but a client that does not resend sees an error.
     */
    resetsPerSwitch: number;
  }) {
  describe(`ingress contract: ${name}`, () => {
    let t: IngressUnderTest;
    let a: Backend;
    let b: Backend;

    beforeAll(async () => {
      [a, b] = [await startBackend('A'), await startBackend('B')];
      t = await factory();
    });
    afterAll(async () => {
      await t?.close();
      await a?.close();
      await b?.close();
    });

    it('routes by Host header to the right backend and adds X-Forwarded headers', async () => {
      const [d1, d2] = [uniqueDomain('host1'), uniqueDomain('host2')];
      await t.ingress.setRoute({ domain: d1, appId: 'app1', targets: [a.target] });
      await t.ingress.setRoute({ domain: d2, appId: 'app2', targets: [b.target] });

      const r1 = await t.get(d1, '/hello?x=1');
      expect(r1.status).toBe(200);
      expect(r1.json()).toMatchObject({ backend: 'A', path: '/hello?x=1', host: d1, xfp: t.scheme, xfh: d1 });
      expect(r1.json().xff).toContain('127.0.0.1');
      expect((await t.get(d2)).json().backend).toBe('B');
      // Host matching ignores case and a port in the header.
      expect((await t.get(`${d1.toUpperCase()}:1234`)).json().backend).toBe('A');
      expect(t.ingress.routes()).toEqual(
        expect.arrayContaining([
          { domain: d1, appId: 'app1', targets: [a.target] },
          { domain: d2, appId: 'app2', targets: [b.target] },
        ]),
      );
    });

    it('answers 404 not_found for a host no app holds', async () => {
      const r = await t.get(uniqueDomain('nobody'));
      expect(r.status).toBe(404);
      expect(r.json()).toMatchObject({ error: 'not_found' });
    });

    it('answers 503 unavailable for a route with no targets', async () => {
      const d = uniqueDomain('empty');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [] });
      const r = await t.get(d);
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ error: 'unavailable' });
    });

    it('answers 502 when the target refuses the connection', async () => {
      const d = uniqueDomain('refused');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [{ host: '127.0.0.1', port: await freePort() }] });
      expect((await t.get(d)).status).toBe(502);
    });

    it('switches between two backends with zero failed requests while clients poll', async () => {
      const d = uniqueDomain('switch');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
      let stop = false;
      const served: Record<string, number> = {};
      const failures: string[] = [];
      const resent = { fresh: 0, keepAlive: 0 };
      let requestsResent = 0;
      // Two pollers open a connection per request; two hold keep-alive connections like a browser does.
      const poll = async (keepAlive: boolean) => {
        const agent = keepAlive ? t.keepAliveAgent() : undefined;
        while (!stop) {
          try {
            const r = await t.get(d, '/', { agent, retryReset: true });
            resent[keepAlive ? 'keepAlive' : 'fresh'] += r.retried;
            if (r.retried > 0) requestsResent++;
            if (r.status === 200) served[r.json().backend] = (served[r.json().backend] ?? 0) + 1;
            else failures.push(`status ${r.status}: ${r.body}`);
          } catch (err) {
            failures.push(`${keepAlive ? 'keep-alive' : 'fresh'}: ${(err as Error).message}`);
          }
        }
        agent?.destroy();
      };
      const pollers = [poll(false), poll(false), poll(true), poll(true)];

      const started = Date.now();
      const wrongAfterSwitch: string[] = [];
      for (let i = 1; i <= tuning.switches; i++) {
        const next = i % 2 === 1 ? b : a;
        await t.ingress.setRoute({ domain: d, appId: 'app', targets: [next.target] });
        // A fresh request right after setRoute resolves must already see the new target.
        const r = await t.get(d);
        if (r.json().backend !== next.name) wrongAfterSwitch.push(`switch ${i}: ${r.json().backend}`);
        await sleep(tuning.pauseMs);
      }
      stop = true;
      await Promise.all(pollers);

      const total = (served.A ?? 0) + (served.B ?? 0) + failures.length;
      console.info(
        `[${name}] ${tuning.switches} switches in ${Date.now() - started} ms; ${total} polled requests ` +
          `(A ${served.A ?? 0}, B ${served.B ?? 0}), ${failures.length} failed; ${requestsResent} needed a resend after ` +
          `a connection reset before any answer (${resent.fresh} resends from new connections, ${resent.keepAlive} from kept-alive ones)`,
      );
      expect(failures).toEqual([]);
      expect(wrongAfterSwitch).toEqual([]);
      expect(served.A).toBeGreaterThan(0);
      expect(served.B).toBeGreaterThan(0);
      expect(total).toBeGreaterThan(tuning.switches);
      if (tuning.resetsPerSwitch === 0) expect(resent).toEqual({ fresh: 0, keepAlive: 0 });
      else expect(resent.fresh + resent.keepAlive).toBeLessThanOrEqual(tuning.resetsPerSwitch * tuning.switches);
    });

    it('lets a request in flight finish on the old target while new ones go to the new one', async () => {
      const d = uniqueDomain('inflight');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
      const slow = t.get(d, '/slow?ms=600');
      await sleep(200);
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [b.target] });
      expect((await t.get(d)).json().backend).toBe('B');
      const old = await slow;
      expect(old.status).toBe(200);
      expect(old.json().backend).toBe('A');
    });

    it('removeRoute makes the host 404 again (and tolerates an unknown domain)', async () => {
      const d = uniqueDomain('removed');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
      expect((await t.get(d)).status).toBe(200);
      await t.ingress.removeRoute(d);
      expect((await t.get(d)).status).toBe(404);
      expect(t.ingress.routes().map((r) => r.domain)).not.toContain(d);
      await expect(t.ingress.removeRoute(uniqueDomain('never'))).resolves.toBeUndefined();
    });

    it('replaceAll swaps the whole table', async () => {
      const [d1, d2, d3] = [uniqueDomain('old'), uniqueDomain('kept'), uniqueDomain('new')];
      await t.ingress.setRoute({ domain: d1, appId: 'x', targets: [a.target] });
      await t.ingress.setRoute({ domain: d2, appId: 'y', targets: [a.target] });
      await t.ingress.replaceAll([
        { domain: d2, appId: 'y', targets: [b.target] },
        { domain: d3, appId: 'z', targets: [a.target] },
      ]);
      expect((await t.get(d1)).status).toBe(404);
      expect((await t.get(d2)).json().backend).toBe('B');
      expect((await t.get(d3)).json().backend).toBe('A');
      expect(t.ingress.routes().map((r) => r.domain).sort()).toEqual([d2, d3].sort());
      // A route added after replaceAll still works (the catch-all, if any, stays last).
      const d4 = uniqueDomain('after');
      await t.ingress.setRoute({ domain: d4, appId: 'w', targets: [b.target] });
      expect((await t.get(d4)).json().backend).toBe('B');
      expect((await t.get(uniqueDomain('stillnobody'))).status).toBe(404);
    });

    it('proxies WebSocket upgrades, and refuses them for unknown hosts', async () => {
      const d = uniqueDomain('ws');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
      const ws = t.ws(d);
      await wsOpen(ws);
      expect(await wsRoundTrip(ws, 'hello')).toBe('A:hello');
      expect(await wsRoundTrip(ws, 'again')).toBe('A:again');
      ws.close();

      await expect(wsOpen(t.ws(uniqueDomain('wsnobody')))).rejects.toThrow(/404/);
    });

    it('urlFor gives the URL a browser opens, and it reaches the app', async () => {
      const d = uniqueDomain('url');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [b.target] });
      const url = new URL(t.ingress.urlFor(d));
      expect(url.protocol).toBe(`${t.scheme}:`);
      expect(url.hostname).toBe(d);
      const r = await t.open(url.toString());
      expect(r.status).toBe(200);
      expect(r.json().backend).toBe('B');
    });

    it('rejects an invalid domain or target without touching the table', async () => {
      const before = t.ingress.routes().length;
      await expect(t.ingress.setRoute({ domain: 'not a domain', appId: 'x', targets: [] })).rejects.toBeInstanceOf(IngressError);
      await expect(
        t.ingress.setRoute({ domain: uniqueDomain('badport'), appId: 'x', targets: [{ host: '127.0.0.1', port: 70000 }] }),
      ).rejects.toBeInstanceOf(IngressError);
      expect(t.ingress.routes().length).toBe(before);
    });
  });
}

ingressContract('embedded', embeddedUnderTest, { switches: 200, pauseMs: 5, resetsPerSwitch: 0 });

let caddy: CaddyProcess | undefined;
ingressContract(
  'caddy',
  async () => {
    caddy = await startCaddy();
    return caddyUnderTest(caddy);
  },
  { switches: 30, pauseMs: 20, resetsPerSwitch: 4 },
);
afterAll(async () => {
  await caddy?.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// What only one of them has

describe('embedded ingress', () => {
  let ingress: EmbeddedIngress;
  let a: Backend;
  let b: Backend;
  beforeAll(async () => {
    [a, b] = [await startBackend('A'), await startBackend('B')];
    ingress = createEmbeddedIngress({ port: 0, host: '127.0.0.1' });
    await ingress.start();
  });
  afterAll(async () => {
    await ingress.stop();
    await a.close();
    await b.close();
  });
  const get = (domain: string, headers: Record<string, string> = {}) =>
    collect(http.request({ host: '127.0.0.1', port: ingress.port, agent: false, headers: { ...headers, host: domain } }));

  it('round-robins across several targets', async () => {
    const d = uniqueDomain('rr');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target, b.target] });
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push((await get(d)).json().backend);
    expect(seen).toEqual(['A', 'B', 'A', 'B', 'A', 'B']);
  });

  it('overrides client-sent X-Forwarded-Host/Proto and appends to X-Forwarded-For', async () => {
    const d = uniqueDomain('xfwd');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const echo = (await get(d, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.9.9.9' })).json();
    expect(echo).toMatchObject({ xfh: d, xfp: 'http', xff: '10.9.9.9, 127.0.0.1' });
  });

  it('keeps an open WebSocket on its old target across a switch', async () => {
    const d = uniqueDomain('wsswitch');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const ws = new WebSocket(`ws://127.0.0.1:${ingress.port}/`, { headers: { host: d } });
    await wsOpen(ws);
    await ingress.setRoute({ domain: d, appId: 'app', targets: [b.target] });
    expect(await wsRoundTrip(ws, 'still')).toBe('A:still');
    ws.close();
  });

  it('parses Host headers', () => {
    expect(hostOf('Example.COM:8080')).toBe('example.com');
    expect(hostOf('example.com.')).toBe('example.com');
    expect(hostOf('[::1]:80')).toBe('[::1]');
    expect(hostOf(undefined)).toBeUndefined();
  });

  it('urlFor omits :80', () => {
    expect(createEmbeddedIngress({ port: 80 }).urlFor('App.Example.com')).toBe('http://app.example.com');
    expect(createEmbeddedIngress({ port: 8080 }).urlFor('app.example.com')).toBe('http://app.example.com:8080');
  });

  it('fails start() clearly when the port is taken', async () => {
    const other = createEmbeddedIngress({ port: ingress.port, host: '127.0.0.1' });
    await expect(other.start()).rejects.toThrow(/cannot listen on port/);
  });

  it('createIngress picks the kind from configuration', () => {
    expect(createIngress({ ingress: 'embedded', ingressPort: 8080, caddyAdminUrl: 'http://127.0.0.1:2019' }).kind).toBe('embedded');
    const c = createIngress({ ingress: 'caddy', ingressPort: 8080, caddyAdminUrl: 'http://127.0.0.1:2019' });
    expect(c.kind).toBe('caddy');
    expect(c.urlFor('app.example.com')).toBe('https://app.example.com');
  });
});

describe('caddy ingress', () => {
  let proc: CaddyProcess;
  let a: Backend;
  let b: Backend;
  beforeAll(async () => {
    [a, b] = [await startBackend('A'), await startBackend('B')];
    proc = await startCaddy();
  });
  afterAll(async () => {
    await proc?.stop();
    await a?.close();
    await b?.close();
  });
  const make = () =>
    createCaddyIngress({ adminUrl: proc.adminUrl, httpPort: proc.httpPort, httpsPort: proc.httpsPort, tls: 'internal' });
  const admin = async (path: string) => (await fetch(proc.adminUrl + path)).json() as Promise<unknown>;
  const get = (domain: string) =>
    collect(https.request({ host: '127.0.0.1', port: proc.httpsPort, servername: domain, rejectUnauthorized: false, agent: false, headers: { host: domain } }));

  it('fails with a clear error when Caddy is not running', async () => {
    const down = createCaddyIngress({ adminUrl: `http://127.0.0.1:${await freePort()}` });
    const err = await down.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaddyAdminError);
    expect((err as CaddyAdminError).status).toBe(0);
    expect((err as Error).message).toMatch(/unreachable.*is Caddy running/);
    await expect(down.setRoute({ domain: uniqueDomain('x'), appId: 'x', targets: [] })).rejects.toThrow(/before start/);
  });

  it('keeps one route per domain with an @id, updated in place, and the catch-all last', async () => {
    const ingress = make();
    await ingress.start();
    const d = uniqueDomain('shape');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    await ingress.setRoute({ domain: d, appId: 'app', targets: [b.target] });
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target, b.target] });
    const routes = (await admin(ROUTES_PATH)) as Array<Record<string, unknown>>;
    const mine = routes.filter((r) => r['@id'] === routeId(d));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      match: [{ host: [d] }],
      handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${a.target.port}` }, { dial: `127.0.0.1:${b.target.port}` }] }],
      terminal: true,
    });
    expect(routes.at(-1)?.['@id']).toBe(CATCH_ALL_ID);
    expect(await admin(`/id/${routeId(d)}/match`)).toEqual([{ host: [d] }]);
    // Round-robin, not Caddy's default random choice.
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get(d)).json().backend);
    expect([...seen].sort()).toEqual(['A', 'B']);
  });

  it('a restarted control plane finds its server and keeps serving until replaceAll rebuilds', async () => {
    const first = make();
    await first.start();
    const d = uniqueDomain('survivor');
    await first.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    await first.stop();
    expect((await get(d)).json().backend).toBe('A'); // Caddy keeps serving while Cynchro is down.

    const second = make();
    await second.start();
    expect((await get(d)).json().backend).toBe('A');
    const routes = (await admin(ROUTES_PATH)) as Array<Record<string, unknown>>;
    expect(routes.filter((r) => r['@id'] === CATCH_ALL_ID)).toHaveLength(1);
    expect(routes.at(-1)?.['@id']).toBe(CATCH_ALL_ID);
    await second.replaceAll([{ domain: d, appId: 'app', targets: [b.target] }]);
    expect((await get(d)).json().backend).toBe('B');
  });

  it('reports a config Caddy refuses as an IngressError with Caddy\'s reason', async () => {
    let corrupt = false;
    const ingress = createCaddyIngress({
      adminUrl: proc.adminUrl,
      httpsPort: proc.httpsPort,
      // A fetch that corrupts the routes array stands in for a config Caddy rejects.
      fetch: (input, init) =>
        fetch(input, corrupt && init?.method === 'PATCH' && String(input).endsWith('/routes') ? { ...init, body: '{"match":"x"}' } : init),
    });
    await ingress.start();
    const d = uniqueDomain('kept');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    corrupt = true;
    const err = await ingress.replaceAll([]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaddyAdminError);
    expect((err as CaddyAdminError).status).toBeGreaterThanOrEqual(400);
    expect((err as Error).message).toMatch(/PATCH .*routes failed/);
    // Caddy rolled back, and the table still says what Caddy serves.
    expect((await get(d)).json().backend).toBe('A');
    expect(ingress.routes().map((r) => r.domain)).toContain(d);
  });

  it('adds its server to an operator\'s Caddy config without disturbing it; acme mode leaves issuance alone', async () => {
    const own = await startCaddy();
    try {
      const otherPort = await freePort();
      const operatorPolicy = { subjects: ['intranet.example'], issuers: [{ module: 'internal' }] };
      const load = await fetch(`${own.adminUrl}/load`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          admin: { listen: new URL(own.adminUrl).host },
          apps: {
            http: { servers: { other: { listen: [`127.0.0.1:${otherPort}`], automatic_https: { disable: true }, routes: [{ handle: [{ handler: 'static_response', body: 'operator' }] }] } } },
            tls: { automation: { policies: [operatorPolicy] } },
            // The operator's internal CA must not go into this machine's trust store either.
            pki: { certificate_authorities: { local: { install_trust: false } } },
          },
        }),
      });
      expect(load.status).toBe(200);
      const config = async () => (await fetch(`${own.adminUrl}/config/`)).json() as Promise<any>;
      const opts = { adminUrl: own.adminUrl, httpPort: own.httpPort, httpsPort: own.httpsPort };

      await createCaddyIngress({ ...opts, tls: 'acme' }).start();
      let c = await config();
      expect(c.apps.http.servers.cynchro.listen).toEqual([`:${own.httpsPort}`]);
      expect(c.apps.http.servers.other.routes).toHaveLength(1);
      expect(c.apps.tls.automation.policies).toEqual([operatorPolicy]); // Caddy's default (ACME) issuers apply.
      expect(c.apps.pki).toEqual({ certificate_authorities: { local: { install_trust: false } } });

      const internal = createCaddyIngress({ ...opts, tls: 'internal' });
      await internal.start();
      await internal.start(); // Idempotent: nothing is added twice.
      c = await config();
      expect(c.apps.tls.automation.policies).toEqual([operatorPolicy, expect.objectContaining({ '@id': 'cynchro-tls-internal', on_demand: true })]);
      expect(c.apps.pki.certificate_authorities.local.install_trust).toBe(false);
      expect(c.apps.http.servers.cynchro.routes.map((r: { '@id': string }) => r['@id'])).toEqual([CATCH_ALL_ID]);
      const other = await collect(http.request({ host: '127.0.0.1', port: otherPort, agent: false }));
      expect(other.body).toBe('operator');
    } finally {
      await own.stop();
    }
  });

  it('urlFor is https and omits :443', () => {
    expect(createCaddyIngress({ adminUrl: 'http://x' }).urlFor('app.example.com')).toBe('https://app.example.com');
    expect(createCaddyIngress({ adminUrl: 'http://x', httpsPort: 8443 }).urlFor('app.example.com')).toBe('https://app.example.com:8443');
  });
});
