// The ingress contract, run against the embedded proxy; then Caddy in front of it as INGRESS=caddy runs it (a real
// Caddy, internal CA, HTTPS) and the TLS ask endpoint. Tiny Node backends on loopback ports stand in for apps.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { CaddyAdminError } from '../src/modules/ingress/caddy-admin-client.js';
import { HTTPS_SERVER } from '../src/modules/ingress/caddy-config.js';
import { createCaddyFront, type CaddyFront } from '../src/modules/ingress/caddy-front.js';
import { createIngress } from '../src/modules/ingress/create-ingress.js';
import {
  createEmbeddedIngress,
  hostOf,
  type EmbeddedIngress,
  type EmbeddedIngressOptions,
} from '../src/modules/ingress/embedded-ingress.js';
import { BAD_GATEWAY_BODY, IngressError, UNAVAILABLE_BODY, type Ingress, type RouteTarget } from '../src/modules/ingress/ingress.js';
import { createTlsAskServer, type TlsAskServer } from '../src/modules/ingress/tls-ask-server.js';
import { freePort, startCaddy, type CaddyProcess } from './caddy-process.js';
import { getApp, type AppTarget } from './ws-app.js';

// ---------------------------------------------------------------------------------------------------------------
// Backends and clients

interface Backend {
  name: string;
  target: RouteTarget;
  /** Requests it received. */
  readonly hits: number;
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

/** `port`: to bring a stopped backend back where the route points (take it from freePort(), see there why). */
async function startBackend(name: string, port = 0): Promise<Backend> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
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
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    name,
    target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    get hits() {
      return hits;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function startBackends(...names: string[]): Promise<Backend[]> {
  return Promise.all(names.map(async (n) => startBackend(n, await freePort())));
}

async function closeAll(backends: Backend[]): Promise<void> {
  await Promise.all(backends.map((x) => x.close()));
}

/** Where nothing listens: a replica whose container is gone. */
async function deadTarget(): Promise<RouteTarget> {
  return { host: '127.0.0.1', port: await freePort() };
}

/** A target that accepts connections and closes them before answering: a replica crashing under each request. */
async function startResetter(): Promise<{ target: RouteTarget; readonly hits: number; close(): Promise<void> }> {
  let hits = 0;
  const server = net.createServer((socket) => {
    hits++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    get hits() {
      return hits;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A listener that never accepts: its process is stopped and its accept queue full, so a new connection gets no
 * SYN-ACK and hangs as it does towards a host that has vanished from the network (Linux drops such SYNs).
 */
async function startStalled(): Promise<{ target: RouteTarget; close(): void }> {
  const listen = "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port) })";
  const child = spawn(process.execPath, ['-e', listen], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const fillers: net.Socket[] = [];
  const close = () => {
    for (const f of fillers) f.destroy();
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim())));
      child.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
    });
    child.kill('SIGSTOP');
    await waitFor('the listener to stop', async () => (fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').includes(') T ') ? true : undefined), 5_000);
    // backlog 1 queues two connections; the third and every later one stay unanswered.
    for (let i = 0; i < 3; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
    await waitFor('the accept queue to fill', async () => (fillers.filter((f) => !f.connecting).length >= 2 ? true : undefined), 5_000);
    return { target: { host: '127.0.0.1', port }, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** Sends a response head and part of the body, then dies: a replica crashing in the middle of an answer. */
async function startHalfAnswer(): Promise<{ target: RouteTarget; readonly hits: number; close(): Promise<void> }> {
  let hits = 0;
  const server = net.createServer((socket) =>
    socket.once('data', () => {
      hits++;
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\npartial', () => socket.destroy());
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    get hits() {
      return hits;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Polls until `check` answers something; every poll and the whole wait are bounded. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const found = await check();
      if (found !== undefined) return found;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(50);
  }
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Echo>(): T;
  /** How many times the request was resent because its connection was reset before any answer. */
  retried: number;
}

interface GetOptions {
  agent?: http.Agent;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
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

function collect(req: http.ClientRequest, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body), retried: 0 }));
      res.on('error', reject);
    });
    req.on('error', (err: Error & { code?: string }) =>
      reject(Object.assign(err, { reset: !answered && err.code === 'ECONNRESET' })),
    );
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.end(body);
  });
}

/** Up to two resends: one Caddy reload can reset a kept-alive connection and, at the same instant, the reconnection. */
async function send(make: () => http.ClientRequest, opts: GetOptions = {}): Promise<Reply> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { ...(await collect(make(), opts.body)), retried: attempt };
    } catch (err) {
      if (!opts.retryReset || attempt === 2 || !(err as { reset?: boolean }).reset) throw err;
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
        () =>
          http.request({ host: '127.0.0.1', port, path, method: opts.method, agent: opts.agent ?? false, headers: { ...opts.headers, host: domain } }),
        opts,
      ),
    keepAliveAgent: () => new http.Agent({ keepAlive: true }),
    ws: (domain) => new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: domain } }),
    open: (url) => collect(http.request(url, { lookup: toLoopback, agent: false })),
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

interface Tally {
  /** Answers per backend name. */
  by: Record<string, number>;
  failures: string[];
}

function addTo(tally: Tally, r: Reply | Error): void {
  if (r instanceof Error) tally.failures.push(r.message);
  else if (r.status !== 200) tally.failures.push(`status ${r.status}: ${r.body}`);
  else tally.by[r.json().backend] = (tally.by[r.json().backend] ?? 0) + 1;
}

/** `n` GETs, one after another or all at once; no resend on a reset, so every failure counts. */
async function tally(t: IngressUnderTest, domain: string, n: number, opts: { agent?: http.Agent; parallel?: boolean } = {}): Promise<Tally> {
  const result: Tally = { by: {}, failures: [] };
  const one = () => t.get(domain, '/', { agent: opts.agent }).catch((err: Error) => err);
  if (opts.parallel) for (const r of await Promise.all(Array.from({ length: n }, one))) addTo(result, r);
  else for (let i = 0; i < n; i++) addTo(result, await one());
  return result;
}

function merge(...tallies: Tally[]): Tally {
  const result: Tally = { by: {}, failures: tallies.flatMap((x) => x.failures) };
  for (const x of tallies) for (const [k, v] of Object.entries(x.by)) result.by[k] = (result.by[k] ?? 0) + v;
  return result;
}

const BAD_GATEWAY = JSON.parse(BAD_GATEWAY_BODY) as unknown;
const UNAVAILABLE = JSON.parse(UNAVAILABLE_BODY) as unknown;

// ---------------------------------------------------------------------------------------------------------------
// The shared contract

export function ingressContract(name: string, factory: () => Promise<IngressUnderTest>, tuning: {
    switches: number;
    pauseMs: number;
    /**
     * Connection resets a switch may cause, each answered by a resend. The embedded table swap causes none; an
     * ingress whose switches reload a listener (as Caddy 2.6 reloads did) would.
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

    it('answers 503 unavailable with Retry-After when the target refuses the connection: no instance to serve', async () => {
      const d = uniqueDomain('refused');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [{ host: '127.0.0.1', port: await freePort() }] });
      const r = await t.get(d);
      expect(r.status).toBe(503);
      expect(r.json()).toEqual(UNAVAILABLE);
      expect(r.headers['retry-after']).toBe('1');
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

    // Several replicas per route: requests spread over them, and a dead one costs clients nothing.

    it('spreads requests over all targets of a route', async () => {
      const replicas = await startBackends('R1', 'R2', 'R3');
      try {
        const d = uniqueDomain('spread');
        await t.ingress.setRoute({ domain: d, appId: 'app', targets: replicas.map((x) => x.target) });
        const result = await tally(t, d, 30);
        expect(result.failures).toEqual([]);
        for (const x of replicas) expect(result.by[x.name] ?? 0, `${x.name} in ${JSON.stringify(result.by)}`).toBeGreaterThanOrEqual(5);
      } finally {
        await closeAll(replicas);
      }
    });

    it('loses no GET when one of three targets stops, on new or kept-alive connections, one by one or at once', async () => {
      const replicas = await startBackends('S1', 'S2', 'S3');
      const agent = t.keepAliveAgent();
      try {
        const d = uniqueDomain('stopped');
        await t.ingress.setRoute({ domain: d, appId: 'app', targets: replicas.map((x) => x.target) });
        // All three serve first, so the ingress holds kept-alive connections to the one that then stops.
        const warm = await tally(t, d, 6, { agent });
        expect(Object.keys(warm.by).sort()).toEqual(['S1', 'S2', 'S3']);

        await replicas[2]!.close();
        const result = merge(
          await tally(t, d, 20, { parallel: true }), // before the ingress knows: several requests pick S3 first
          await tally(t, d, 20),
          await tally(t, d, 20, { agent }),
        );
        expect(result.failures).toEqual([]);
        expect(result.by.S3).toBeUndefined();
        expect((result.by.S1 ?? 0) + (result.by.S2 ?? 0)).toBe(60);
        expect(result.by.S1).toBeGreaterThan(0);
        expect(result.by.S2).toBeGreaterThan(0);
      } finally {
        agent.destroy();
        await closeAll(replicas.slice(0, 2));
      }
    });

    it('sends a GET on to the next target when one closes the connection before answering', async () => {
      const resetter = await startResetter();
      try {
        const d = uniqueDomain('reset');
        await t.ingress.setRoute({ domain: d, appId: 'app', targets: [resetter.target, a.target] });
        const result = await tally(t, d, 10);
        expect(result.failures).toEqual([]);
        expect(result.by).toEqual({ A: 10 });
        expect(resetter.hits).toBeGreaterThan(0); // the resetting target was tried, and skipped
      } finally {
        await resetter.close();
      }
    });

    it('answers 503 to a GET whose only target closes every connection unanswered (a dead container behind docker-proxy), 502 to a POST', async () => {
      const resetter = await startResetter();
      try {
        const d = uniqueDomain('resetonly');
        await t.ingress.setRoute({ domain: d, appId: 'app', targets: [resetter.target] });
        const got = await t.get(d);
        expect(got.status).toBe(503);
        expect(got.json()).toEqual(UNAVAILABLE);
        const posted = await t.get(d, '/orders', { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } });
        expect(posted.status).toBe(502);
        expect(posted.json()).toEqual(BAD_GATEWAY);
        expect(resetter.hits).toBeGreaterThanOrEqual(2);
      } finally {
        await resetter.close();
      }
    });

    it('answers a POST whose only target refuses connections with 503 unavailable (nothing reached the app)', async () => {
      const d = uniqueDomain('deadpost');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [await deadTarget()] });
      const r = await t.get(d, '/orders', { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(503);
      expect(r.json()).toEqual(UNAVAILABLE);
    });

    it('answers 503 while every target is dead, and serves again when one comes back, without a setRoute', async () => {
      const [x, y] = (await startBackends('X', 'Y')) as [Backend, Backend];
      const d = uniqueDomain('alldead');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [x.target, y.target] });
      expect(Object.keys((await tally(t, d, 2)).by).sort()).toEqual(['X', 'Y']);
      await closeAll([x, y]);

      for (const method of ['GET', 'GET', 'POST']) {
        const r = await t.get(d, '/', { method });
        expect(r.status, `${method}: ${r.body}`).toBe(503);
        expect(r.json()).toEqual(UNAVAILABLE);
      }

      const back = await startBackend('X again', x.target.port);
      try {
        const served = await waitFor('the target that came back to be served', async () => {
          const r = await t.get(d);
          return r.status === 200 ? r.json().backend : undefined;
        }, 15_000);
        expect(served).toBe('X again');
      } finally {
        await back.close();
      }
    });

    it('opens WebSockets on a live target when another target of the route is dead', async () => {
      const d = uniqueDomain('wsdead');
      await t.ingress.setRoute({ domain: d, appId: 'app', targets: [await deadTarget(), a.target] });
      // Several in turn: with round-robin, at least one of them picks the dead target first.
      for (let i = 0; i < 3; i++) {
        const ws = t.ws(d);
        await wsOpen(ws);
        expect(await wsRoundTrip(ws, `hi${i}`)).toBe(`A:hi${i}`);
        ws.close();
      }
    });
  });
}

ingressContract('embedded', embeddedUnderTest, { switches: 200, pauseMs: 5, resetsPerSwitch: 0 });

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

  const send = (ing: EmbeddedIngress, domain: string, opts: GetOptions = {}) =>
    collect(
      http.request({ host: '127.0.0.1', port: ing.port, method: opts.method, agent: false, headers: { ...opts.headers, host: domain } }),
      opts.body,
    );
  /** Which backend answered each of `n` GETs in turn. */
  const names = async (ing: EmbeddedIngress, domain: string, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await send(ing, domain)).json().backend);
    return out;
  };
  async function withIngress(options: Partial<EmbeddedIngressOptions>, fn: (ing: EmbeddedIngress) => Promise<void>): Promise<void> {
    const ing = createEmbeddedIngress({ port: 0, host: '127.0.0.1', ...options });
    await ing.start();
    try {
      await fn(ing);
    } finally {
      await ing.stop();
    }
  }

  it('sends GET, HEAD and OPTIONS on past a dead target; a POST or a GET with a body gets 503 instead', async () => {
    const dead = await deadTarget();
    // A new domain each: its rotation starts at the dead target, which nothing has marked yet.
    const deadFirst = async (tag: string) => {
      const d = uniqueDomain(tag);
      await ingress.setRoute({ domain: d, appId: 'app', targets: [dead, a.target] });
      return d;
    };
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect((await send(ingress, await deadFirst(method), { method })).status, method).toBe(200);

    const post = await deadFirst('post');
    const refused = await send(ingress, post, { method: 'POST', body: '{"n":1}' });
    expect(refused.status).toBe(503);
    expect(refused.json()).toEqual(UNAVAILABLE);
    // That failure marked the target down: the next POSTs go where they can be served, not round the rotation.
    for (let n = 2; n <= 3; n++) expect((await send(ingress, post, { method: 'POST', body: `{"n":${n}}` })).json().backend).toBe('A');

    const withBody = { method: 'GET', body: 'x', headers: { 'content-length': '1' } };
    expect((await send(ingress, await deadFirst('getbody'), withBody)).status).toBe(503);
  });

  it('skips a target marked down while the mark lasts; a route change keeps marks of targets that stay, drops others', async () => {
    await withIngress({ failDurationMs: 60_000 }, async (ing) => {
      const port = await freePort();
      const first = await startBackend('B2', port);
      const d = uniqueDomain('marks');
      const both = { domain: d, appId: 'app', targets: [a.target, first.target] };
      await ing.setRoute(both);
      await first.close();
      expect(await names(ing, d, 2)).toEqual(['A', 'A']);

      const back = await startBackend('B2 again', port);
      try {
        expect(await names(ing, d, 4)).toEqual(['A', 'A', 'A', 'A']);
        await ing.setRoute(both);
        expect(await names(ing, d, 4)).toEqual(['A', 'A', 'A', 'A']);
        await ing.replaceAll([both]);
        expect(await names(ing, d, 4)).toEqual(['A', 'A', 'A', 'A']);
        await ing.setRoute({ ...both, targets: [a.target] });
        await ing.setRoute(both);
        expect(await names(ing, d, 4)).toEqual(['A', 'B2 again', 'A', 'B2 again']);
      } finally {
        await back.close();
      }
    });
  });

  it('forgets a mark after failDurationMs', async () => {
    await withIngress({ failDurationMs: 200 }, async (ing) => {
      const port = await freePort();
      const first = await startBackend('B2', port);
      const d = uniqueDomain('expiry');
      await ing.setRoute({ domain: d, appId: 'app', targets: [a.target, first.target] });
      await first.close();
      expect(await names(ing, d, 2)).toEqual(['A', 'A']);
      const back = await startBackend('B2 again', port);
      try {
        await waitFor('the marked target to be served again', async () => ((await names(ing, d, 1))[0] === 'B2 again' ? true : undefined), 5_000);
      } finally {
        await back.close();
      }
    });
  });

  it('still tries the targets when all are marked down, so one that comes back is served at once', async () => {
    await withIngress({ failDurationMs: 60_000 }, async (ing) => {
      const [x, y] = (await startBackends('X', 'Y')) as [Backend, Backend];
      const d = uniqueDomain('allmarked');
      await ing.setRoute({ domain: d, appId: 'app', targets: [x.target, y.target] });
      await closeAll([x, y]);
      for (let i = 0; i < 2; i++) expect((await send(ing, d)).status).toBe(503);
      const back = await startBackend('X again', x.target.port);
      try {
        const r = await send(ing, d);
        expect(r.status).toBe(200);
        expect(r.json().backend).toBe('X again');
      } finally {
        await back.close();
      }
    });
  });

  it('gives up on a target that does not accept the connection within connectTimeoutMs, for requests and WebSockets', async () => {
    const stalled = await startStalled();
    try {
      await withIngress({ connectTimeoutMs: 300 }, async (ing) => {
        const d = uniqueDomain('stalled');
        await ing.setRoute({ domain: d, appId: 'app', targets: [stalled.target, a.target] });
        const started = Date.now();
        expect((await send(ing, d)).json().backend).toBe('A');
        // Without the timeout the kernel keeps resending the SYN for minutes.
        expect(Date.now() - started).toBeLessThan(2_500);
        expect((await send(ing, d)).json().backend).toBe('A');

        const w = uniqueDomain('stalledws');
        await ing.setRoute({ domain: w, appId: 'app', targets: [stalled.target, a.target] });
        const ws = new WebSocket(`ws://127.0.0.1:${ing.port}/`, { headers: { host: w } });
        await wsOpen(ws);
        expect(await wsRoundTrip(ws, 'late')).toBe('A:late');
        ws.close();
      });
    } finally {
      stalled.close();
    }
  });

  it('answers a WebSocket upgrade with 503 when no target accepts a connection', async () => {
    const d = uniqueDomain('wsalldead');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [await deadTarget(), await deadTarget()] });
    const ws = new WebSocket(`ws://127.0.0.1:${ingress.port}/`, { headers: { host: d } });
    await expect(wsOpen(ws)).rejects.toThrow(/503/);
  });

  it('never sends a request again once the target began answering, and cuts the client off when that answer breaks', async () => {
    const half = await startHalfAnswer();
    try {
      const d = uniqueDomain('half');
      await ingress.setRoute({ domain: d, appId: 'app', targets: [half.target, a.target] });
      const hitsOnA = a.hits;
      // Before, the client waited until its own timeout for the rest of the body.
      await expect(send(ingress, d)).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
      expect(half.hits).toBe(1);
      expect(a.hits).toBe(hitsOnA);
    } finally {
      await half.close();
    }
  });

  it('overrides client-sent X-Forwarded-For/Host/Proto unless the peer is a trusted proxy', async () => {
    const d = uniqueDomain('xfwd');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const claims = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.9.9.9' };
    expect((await get(d, claims)).json()).toMatchObject({ xfh: d, xfp: 'http', xff: '127.0.0.1' });

    const behindProxy = createEmbeddedIngress({ port: 0, host: '127.0.0.1', trustedProxies: ['127.0.0.1'] });
    await behindProxy.start();
    try {
      await behindProxy.setRoute({ domain: d, appId: 'app', targets: [a.target] });
      const via = (h: Record<string, string>) =>
        collect(http.request({ host: '127.0.0.1', port: behindProxy.port, agent: false, headers: { ...h, host: d } }));
      // The proxy's word is kept, and its own hop appended to the chain.
      expect((await via(claims)).json()).toMatchObject({ xfh: 'evil.example', xfp: 'https', xff: '10.9.9.9, 127.0.0.1' });
      // What the proxy leaves out is filled in as for any client.
      expect((await via({})).json()).toMatchObject({ xfh: d, xfp: 'http', xff: '127.0.0.1' });
    } finally {
      await behindProxy.stop();
    }
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

// ---------------------------------------------------------------------------------------------------------------
// INGRESS=caddy: a real Caddy (internal CA) in front of the embedded ingress, with its one static configuration

/** A non-loopback address of this machine (the Docker bridge at least), to show what is not reachable there. */
function nonLoopbackAddress(): string {
  const found = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!found) throw new Error('this test needs a non-loopback IPv4 address on this machine');
  return found.address;
}

function askGet(url: string, localAddress?: string): Promise<Reply> {
  return collect(http.request(url, { agent: false, ...(localAddress ? { localAddress } : {}) }));
}

describe('tls ask endpoint', () => {
  const held = new Set<string>();
  let ask: TlsAskServer;
  beforeAll(async () => {
    ask = createTlsAskServer({ port: 0, holds: async (d) => held.has(d) });
    await ask.start();
  });
  afterAll(() => ask?.stop());

  it('answers 200 for a held domain, 404 for any other, 400 without a valid domain', async () => {
    const d = uniqueDomain('held');
    held.add(d);
    expect(ask.url).toBe(`http://127.0.0.1:${ask.port}/ask`);
    expect((await askGet(`${ask.url}?domain=${d}`)).status).toBe(200);
    expect((await askGet(`${ask.url}?domain=${d.toUpperCase()}.`)).status).toBe(200); // as a browser may send it
    expect((await askGet(`${ask.url}?domain=${uniqueDomain('unknown')}`)).status).toBe(404);
    expect((await askGet(`${ask.url}?domain=sub.${d}`)).status).toBe(404);
    expect((await askGet(ask.url)).status).toBe(400);
    expect((await askGet(`${ask.url}?domain=`)).status).toBe(400);
    expect((await askGet(`${ask.url}?domain=${encodeURIComponent('a b.example')}`)).status).toBe(400);
    expect((await askGet(`http://127.0.0.1:${ask.port}/other?domain=${d}`)).status).toBe(404);
  });

  it('denies (500) when the lookup fails: Caddy issues nothing but on a 2xx', async () => {
    const failing = createTlsAskServer({ port: 0, holds: () => Promise.reject(new Error('database gone')) });
    await failing.start();
    try {
      expect((await askGet(`${failing.url}?domain=app.example.com`)).status).toBe(500);
    } finally {
      await failing.stop();
    }
  });

  it('is bound to loopback: a non-loopback address of this host is refused', async () => {
    const address = nonLoopbackAddress();
    const err = await askGet(`http://${address}:${ask.port}/ask?domain=x.example.com`).catch((e: Error & { code?: string }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error & { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('refuses a non-loopback peer even when bound wider (defense in depth)', async () => {
    const address = nonLoopbackAddress();
    const d = uniqueDomain('wide');
    held.add(d);
    const wide = createTlsAskServer({ port: 0, host: '0.0.0.0', holds: async (x) => held.has(x) });
    await wide.start();
    try {
      // From this host's non-loopback address the peer is that address, not 127.0.0.1.
      expect((await askGet(`http://${address}:${wide.port}/ask?domain=${d}`, address)).status).toBe(403);
      expect((await askGet(`http://127.0.0.1:${wide.port}/ask?domain=${d}`)).status).toBe(200);
    } finally {
      await wide.stop();
    }
  });
});

describe('caddy front', () => {
  const held = new Set<string>();
  let caddy: CaddyProcess;
  let ingress: EmbeddedIngress;
  let ask: TlsAskServer;
  let a: Backend;
  let b: Backend;
  let front: () => CaddyFront;
  let rootCa: Buffer;
  const admin = async (path: string) => (await fetch(caddy.adminUrl + path)).json() as Promise<any>;
  const target = (domain: string): AppTarget => ({ url: `https://${domain}:${caddy.httpsPort}`, ca: rootCa });

  beforeAll(async () => {
    [a, b] = [await startBackend('A'), await startBackend('B')];
    ingress = createEmbeddedIngress({ port: 0, host: '127.0.0.1', trustedProxies: ['127.0.0.1', '::1'] });
    await ingress.start();
    ask = createTlsAskServer({ port: 0, holds: async (d) => held.has(d) });
    await ask.start();
    caddy = await startCaddy({ logLevel: 'INFO' });
    front = () =>
      createCaddyFront({ adminUrl: caddy.adminUrl, ingressPort: ingress.port, askUrl: ask.url, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, tls: 'internal' });
    expect(await front().ensure()).toEqual({ loaded: true });
    // Caddy creates its CA when the config that uses it loads.
    rootCa = await waitFor('the internal CA root', async () => (fs.existsSync(caddyRootPath(caddy)) ? caddy.rootCert() : undefined), 10_000);
  });
  afterAll(async () => {
    await caddy?.stop();
    await ask?.stop();
    await ingress?.stop();
    await a?.close();
    await b?.close();
  });

  it('holds one static config: one reverse proxy to the ingress, on-demand TLS asking the control plane, a grace period', async () => {
    const config = await admin('/config/');
    const https = config.apps.http.servers[HTTPS_SERVER];
    expect(https.routes).toEqual([{ handle: [expect.objectContaining({ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${ingress.port}` }] })], terminal: true }]);
    expect(config.apps.http.grace_period).toBe('10s');
    expect(config.apps.tls.automation).toEqual({ on_demand: { ask: ask.url }, policies: [{ on_demand: true, issuers: [{ module: 'internal' }] }] });
    expect(config.apps.pki.certificate_authorities.local.install_trust).toBe(false);
    // The operator's parts of the config are left alone.
    expect(config.admin).toEqual({ listen: new URL(caddy.adminUrl).host });
    expect(config.logging).toEqual({ logs: { default: { level: 'INFO' } } });
  });

  it('does not reload Caddy when it already holds the config (a control-plane restart)', async () => {
    const before = await admin('/config/');
    const loads = await caddy.configLoads();
    expect(await front().ensure()).toEqual({ loaded: false });
    expect(await admin('/config/')).toEqual(before);
    expect(await caddy.configLoads()).toBe(loads);
    // A config that differs (another ingress port) is loaded: ensure compares, it does not trust a flag.
    const other = createCaddyFront({ adminUrl: caddy.adminUrl, ingressPort: ingress.port + 1, askUrl: ask.url, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, tls: 'internal' });
    expect(await other.ensure()).toEqual({ loaded: true });
    expect(await front().ensure()).toEqual({ loaded: true });
    expect(await caddy.configLoads()).toBe(loads + 2);
    expect(await admin('/config/')).toEqual(before);
  });

  it('waits a while for Caddy to come up, then fails saying Caddy is not running', async () => {
    const down = createCaddyFront({ adminUrl: `http://127.0.0.1:${await freePort()}`, ingressPort: 1, askUrl: ask.url, waitMs: 600 });
    const started = Date.now();
    const err = await down.ensure().catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(err).toBeInstanceOf(CaddyAdminError);
    expect((err as CaddyAdminError).status).toBe(0);
    expect((err as Error).message).toMatch(/unreachable.*is Caddy running/);
  });

  it('loads the ACME form too (Caddy\'s default issuers, the same ask)', async () => {
    const opts = { adminUrl: caddy.adminUrl, ingressPort: ingress.port, askUrl: ask.url, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort };
    try {
      expect(await createCaddyFront({ ...opts, tls: 'acme' }).ensure()).toEqual({ loaded: true });
      expect((await admin('/config/apps/tls/automation')).policies).toEqual([{ on_demand: true }]);
    } finally {
      expect(await createCaddyFront({ ...opts, tls: 'internal' }).ensure()).toEqual({ loaded: true });
    }
  });

  it('serves a held domain over HTTPS (certificate from the internal CA, verified), passing Host and its own X-Forwarded-*', async () => {
    const d = uniqueDomain('https');
    held.add(d);
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const r = await getApp(target(d), '/hello?x=1');
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body) as Echo;
    // Caddy believes no client's X-Forwarded-*; the ingress believes Caddy's and appends the hop it came from.
    expect(echo).toMatchObject({ backend: 'A', path: '/hello?x=1', host: d, xfp: 'https', xfh: d, xff: '127.0.0.1, 127.0.0.1' });
    const spoofed = await collect(
      https.request({ host: '127.0.0.1', port: caddy.httpsPort, path: '/', servername: d, ca: rootCa, agent: false, headers: { host: d, 'x-forwarded-for': '10.9.9.9', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example' } }),
    );
    expect(spoofed.json()).toMatchObject({ host: d, xfp: 'https', xfh: d, xff: '127.0.0.1, 127.0.0.1' });
  });

  it('redirects HTTP to HTTPS, keeping path and query', async () => {
    const d = uniqueDomain('redirect');
    const r = await collect(http.request({ host: '127.0.0.1', port: caddy.httpPort, path: '/a/b?c=1', agent: false, headers: { host: d } }));
    expect(r.status).toBe(308);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: caddy.httpPort, path: '/a/b?c=1', agent: false, headers: { host: `${d}:${caddy.httpPort}` } }, resolve).on('error', reject),
    );
    res.resume();
    expect(res.headers.location).toBe(`https://${d}:${caddy.httpsPort}/a/b?c=1`);
  });

  it('refuses a certificate for a host no app holds (the handshake fails), and issues one once an app holds it', async () => {
    const d = uniqueDomain('unheld');
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const err = await getApp(target(d)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/alert|handshake|socket disconnected|ECONNRESET/i);
    held.add(d);
    expect((await getApp(target(d))).status).toBe(200);
  });

  it('holds a request while the ingress restarts (Caddy dials again for up to 5 s), so the restart costs nothing', async () => {
    const d = uniqueDomain('restart');
    held.add(d);
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    expect((await getApp(target(d))).status).toBe(200);
    const { port } = ingress;
    await ingress.stop();
    const during = getApp(target(d), '/', { timeoutMs: 10_000 });
    // The ingress stays away for a moment (a process restart), then comes back on its port with its routes.
    await sleep(700);
    ingress = createEmbeddedIngress({ port, host: '127.0.0.1', trustedProxies: ['127.0.0.1', '::1'] });
    await ingress.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    await ingress.start();
    const r = await during;
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as Echo).backend).toBe('A');
  });

  it('answers 404 (from the ingress) for a held domain no route serves', async () => {
    const d = uniqueDomain('noroute');
    held.add(d);
    const r = await getApp(target(d));
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'not_found' });
  });

  it('keeps clients and WebSockets of one app untouched while another app\'s route changes: no Caddy reload', { timeout: 60_000 }, async () => {
    const [steady, busy] = [uniqueDomain('steady'), uniqueDomain('busy')];
    held.add(steady);
    held.add(busy);
    await ingress.setRoute({ domain: steady, appId: 'steady', targets: [a.target] });
    await ingress.setRoute({ domain: busy, appId: 'busy', targets: [a.target] });
    const ws = new WebSocket(`wss://127.0.0.1:${caddy.httpsPort}/`, { headers: { host: steady }, servername: steady, ca: rootCa } as WebSocket.ClientOptions & https.RequestOptions);
    await wsOpen(ws);
    const config = await admin('/config/');
    const loads = await caddy.configLoads();
    const poller = pollBackend(target(steady));
    const busyPoller = pollBackend(target(busy));
    for (let i = 0; i < 30; i++) {
      await ingress.setRoute({ domain: busy, appId: 'busy', targets: [i % 2 ? a.target : b.target] });
      await sleep(50);
    }
    const [steadyResult, busyResult] = [await poller.stop(), await busyPoller.stop()];
    console.log(`caddy front, 30 route switches: steady app ${steadyResult.ok} ok / ${steadyResult.failed} failed, switching app ${busyResult.ok} ok / ${busyResult.failed} failed`);
    expect(steadyResult.failures).toEqual([]);
    expect(busyResult.failures).toEqual([]);
    expect(steadyResult.ok).toBeGreaterThan(10);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(await wsRoundTrip(ws, 'still')).toBe('A:still');
    ws.close();
    expect(await caddy.configLoads()).toBe(loads);
    expect(await admin('/config/')).toEqual(config);
  });
});

/** The backends here answer JSON with `backend`, not the ws-app's `hostname`: a poller of their own shape. */
function pollBackend(t: AppTarget): { stop(): Promise<{ ok: number; failed: number; failures: string[] }> } {
  const result = { ok: 0, failed: 0, failures: [] as string[] };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await getApp(t);
        if (r.status === 200 && (JSON.parse(r.body) as Echo).backend) result.ok++;
        else result.failures.push(`status ${r.status}: ${r.body.slice(0, 200)}`);
      } catch (err) {
        result.failures.push((err as Error).message);
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      result.failed = result.failures.length;
      return result;
    },
  };
}

function caddyRootPath(c: CaddyProcess): string {
  return `${c.dir}/data/caddy/pki/authorities/local/root.crt`;
}
