// The ingress as its own process (ingress-main.ts): its control channel's authentication and validation, routes
// persisted and served again after the ingress itself restarts, the client behaving as the in-process ingress does,
// and a control plane (the real composition root, fake engine) that adopts a running ingress instead of replacing it.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { channelRequest, createIngressClient, type IngressClient } from '../src/modules/ingress/ingress-client.js';
import { ingressFiles, processAlive } from '../src/modules/ingress/ingress-files.js';
import { IngressError, type RouteTarget } from '../src/modules/ingress/ingress.js';
import { spawnIngress } from '../src/modules/ingress/spawn-ingress.js';
import { freePort, startHarness, type Harness } from './harness.js';
import { until } from './wait.js';
import { getApp, openAppSocket } from './ws-app.js';

interface Backend {
  name: string;
  target: RouteTarget;
  close(): Promise<void>;
}

/** A stand-in for an app container: answers its name over HTTP, echoes `<name>:<text>` over WebSocket. */
async function startBackend(name: string): Promise<Backend> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(name));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (sock) => sock.on('message', (data) => sock.send(`echo:${name}:${String(data)}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
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

const tempDirs: string[] = [];
function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-ingproc-'));
  tempDirs.push(dir);
  return dir;
}

/** Every ingress a test started, ended at the end whatever happened. */
const started = new Set<number>();
function track(c: IngressClient): IngressClient {
  if (c.pid) started.add(c.pid);
  return c;
}
async function killAll(): Promise<void> {
  for (const pid of started) {
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    await until(`ingress ${pid} to exit`, () => !processAlive(pid) || isZombie(pid));
  }
  started.clear();
}
function isZombie(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return true;
  }
}

let seq = 0;
const domain = (tag: string) => `${tag}-${process.pid}-${++seq}.ingress.test`;

async function clientFor(dataDir: string, port: number): Promise<IngressClient> {
  const c = createIngressClient({ dataDir, kind: 'embedded', port, host: '127.0.0.1', logLevel: 'warn' });
  await c.start();
  return track(c);
}

const get = (port: number, host: string) => getApp({ url: `http://${host}:${port}` });
const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

let a: Backend;
let b: Backend;
beforeAll(async () => {
  [a, b] = [await startBackend('A'), await startBackend('B')];
});
afterAll(async () => {
  await killAll();
  await a?.close();
  await b?.close();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the ingress process and its control channel', () => {
  let dataDir: string;
  let port: number;
  let client: IngressClient;
  let token: string;
  let files: ReturnType<typeof ingressFiles>;

  beforeAll(async () => {
    dataDir = tempDataDir();
    port = await freePort();
    client = await clientFor(dataDir, port);
    files = ingressFiles(dataDir);
    token = fs.readFileSync(files.token, 'utf8').trim();
  });

  it('starts as its own small process, with private files', async () => {
    expect(client.spawned).toBe(true);
    expect(client.pid).not.toBe(process.pid);
    expect(fs.readFileSync(files.pid, 'utf8').trim()).toBe(String(client.pid));
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(files.dir)).toBe('700');
    for (const f of [files.token, files.socket, files.pid, files.log]) expect(mode(f), f).toBe('600');
    const cmdline = fs.readFileSync(`/proc/${client.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.some((arg) => arg.endsWith('ingress-main.ts'))).toBe(true);
    // What it loaded: the ingress module and its small libraries, never the control plane's.
    const maps = fs.readFileSync(`/proc/${client.pid}/maps`, 'utf8');
    expect(maps).not.toMatch(/better_sqlite3|better-sqlite3/);
    console.info(`[ingress process] pid ${client.pid}, RSS ${rssMb(client.pid!).toFixed(1)} MB (under tsx; plain node on compiled JS is less)`);
    expect(await client.health()).toEqual({ pid: client.pid, routes: 0, port, host: '127.0.0.1', kind: 'embedded' });
  });

  it('answers 401 to a missing or wrong token, and changes nothing', async () => {
    const d = domain('auth');
    await client.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const before = client.routes();
    const raw = (method: string, p: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ socketPath: files.socket, method, path: p, headers }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const evil = JSON.stringify({ routes: [] });
    const attempts = [
      await raw('PUT', '/routes', { 'content-type': 'application/json' }, evil),
      await raw('PUT', '/routes', { authorization: `Bearer ${'0'.repeat(64)}` }, evil),
      await raw('PUT', '/routes', { authorization: `Bearer ${token.slice(0, 63)}` }, evil),
      await raw('PUT', '/routes', { authorization: `Basic ${token}` }, evil),
      await raw('DELETE', `/routes/${d}`, { authorization: 'Bearer nope' }),
      await raw('POST', '/shutdown', {}),
      await raw('GET', '/routes', {}),
    ];
    for (const r of attempts) {
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'unauthorized' });
    }
    expect(await channelRequest(files.socket, token, 'GET', '/routes')).toEqual({ routes: before });
    expect((await get(port, d)).body).toBe('A');
    expect(processAlive(client.pid!)).toBe(true);
  });

  it('answers 400 with a clear message to a bad body, and changes nothing', async () => {
    const before = (await channelRequest(files.socket, token, 'GET', '/routes')) as unknown;
    const bad: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/routes', { route: { domain: 'not a domain', appId: 'x', targets: [] } }, /Invalid domain/],
      ['POST', '/routes', { route: { domain: domain('port'), appId: 'x', targets: [{ host: '127.0.0.1', port: 70000 }] } }, /Invalid target/],
      ['POST', '/routes', { route: { domain: domain('t'), appId: 'x', targets: 'nope' } }, /targets must be an array/],
      ['POST', '/routes', { route: { domain: domain('t'), appId: 'x', targets: [{ host: '127.0.0.1', port: '80' }] } }, /targets\[0\]/],
      ['POST', '/routes', { route: { domain: domain('t'), targets: [] } }, /appId/],
      ['POST', '/routes', {}, /route\b/],
      ['PUT', '/routes', { routes: { a: 1 } }, /routes must be an array/],
      ['PUT', '/routes', { routes: [{ domain: domain('ok'), appId: 'x', targets: [] }, { domain: '-bad-', appId: 'y', targets: [] }] }, /routes\[1\]|Invalid domain/],
      ['DELETE', '/routes/not%20a%20domain', undefined, /Invalid domain/],
    ];
    for (const [method, p, body, message] of bad) {
      const err = (await channelRequest(files.socket, token, method, p, body).catch((e: unknown) => e)) as IngressError & { status?: number };
      expect(err, `${method} ${p} ${JSON.stringify(body)}`).toBeInstanceOf(IngressError);
      expect(err.status).toBe(400);
      expect(err.message).toMatch(message);
    }
    // Not JSON at all.
    const notJson = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath: files.socket, method: 'PUT', path: '/routes', headers: { authorization: `Bearer ${token}` } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end('{"routes": [');
    });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toEqual({ error: 'validation', message: 'Body is not valid JSON' });
    expect(await channelRequest(files.socket, token, 'GET', '/routes')).toEqual(before);
  });

  it('routes, switches, removes and replaces the table through the client as the in-process ingress does', async () => {
    const [d1, d2, d3] = [domain('one'), domain('two'), domain('three')];
    await client.setRoute({ domain: d1.toUpperCase(), appId: 'app1', targets: [a.target] });
    await client.setRoute({ domain: d2, appId: 'app2', targets: [b.target] });
    expect((await get(port, d1)).body).toBe('A');
    expect((await get(port, d2)).body).toBe('B');
    expect(client.routes()).toEqual(expect.arrayContaining([{ domain: d1, appId: 'app1', targets: [a.target] }]));
    expect((await get(port, domain('nobody'))).status).toBe(404);

    // A switch is served by the very next request.
    for (let i = 0; i < 20; i++) {
      const next = i % 2 === 0 ? b : a;
      await client.setRoute({ domain: d1, appId: 'app1', targets: [next.target] });
      expect((await get(port, d1)).body).toBe(next.name);
    }

    await client.setRoute({ domain: d3, appId: 'app3', targets: [] });
    expect((await get(port, d3)).status).toBe(503);

    await client.removeRoute(d2);
    expect((await get(port, d2)).status).toBe(404);
    await expect(client.removeRoute(domain('never'))).resolves.toBeUndefined();

    await client.replaceAll([
      { domain: d2, appId: 'app2', targets: [a.target] },
      { domain: d3, appId: 'app3', targets: [b.target] },
    ]);
    expect((await get(port, d1)).status).toBe(404);
    expect((await get(port, d2)).body).toBe('A');
    expect((await get(port, d3)).body).toBe('B');
    expect(client.routes().map((r) => r.domain).sort()).toEqual([d2, d3].sort());
    // What the client holds is what the ingress confirmed.
    expect(((await channelRequest(files.socket, token, 'GET', '/routes')) as { routes: unknown[] }).routes).toEqual(client.routes());

    // Refused before anything is sent, like the in-process table.
    const count = client.routes().length;
    await expect(client.setRoute({ domain: 'not a domain', appId: 'x', targets: [] })).rejects.toBeInstanceOf(IngressError);
    await expect(client.setRoute({ domain: domain('bad'), appId: 'x', targets: [{ host: '127.0.0.1', port: 0 }] })).rejects.toBeInstanceOf(IngressError);
    expect(client.routes().length).toBe(count);
    expect((await client.health()).routes).toBe(count);

    // URLs from configuration: the port, and :80 left out.
    expect(client.urlFor('App.Example.com')).toBe(`http://app.example.com:${port}`);
    expect(createIngressClient({ dataDir, kind: 'embedded', port: 80, host: '127.0.0.1' }).urlFor('a.example.com')).toBe('http://a.example.com');
    expect(createIngressClient({ dataDir, kind: 'caddy', port: 8080, host: '127.0.0.1' }).urlFor('a.example.com')).toBe('https://a.example.com');
  });

  it('proxies WebSockets', async () => {
    const d = domain('ws');
    await client.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const s = await openAppSocket({ url: `http://${d}:${port}` });
    expect(await s.roundTrip('hello')).toBe('echo:A:hello');
    await s.close();
  });

  it('persists every change atomically and serves the routes again after its own restart, before anything is sent', async () => {
    const d = domain('persist');
    await client.replaceAll([
      { domain: d, appId: 'app', targets: [b.target] },
      { domain: domain('other'), appId: 'app2', targets: [] },
    ]);
    const saved = JSON.parse(fs.readFileSync(files.routes, 'utf8')) as { routes: unknown[] };
    expect(saved.routes).toEqual(client.routes());
    expect(mode(files.routes)).toBe('600');
    expect(fs.readdirSync(files.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // A crash (SIGKILL): no clean shutdown, a stale socket file and pid file left behind.
    const oldPid = client.pid!;
    process.kill(oldPid, 'SIGKILL');
    await until('the ingress to die', () => !processAlive(oldPid) || isZombie(oldPid));
    await expect(get(port, d)).rejects.toThrow();

    // Started again by hand (as after a reboot): it serves the domain from disk, with no control plane around.
    const child = spawnIngress({ logFile: files.log, env: { ...process.env, DATA_DIR: dataDir, INGRESS_PORT: String(port), INGRESS_HOST: '127.0.0.1', LOG_LEVEL: 'warn' } });
    started.add(child.pid!);
    const r = await until('the restarted ingress to serve the saved route', async () => {
      const reply = await get(port, d);
      return reply.status === 200 ? reply : undefined;
    }, { timeoutMs: 30_000 });
    expect(r.body).toBe('B');
    await until('the new pid file', () => fs.readFileSync(files.pid, 'utf8').trim() === String(child.pid));

    // The client, which knew the old process, finds the new one on its next change.
    const d2 = domain('after-restart');
    await client.setRoute({ domain: d2, appId: 'app', targets: [a.target] });
    expect((await client.health()).pid).toBe(child.pid);
    expect((await get(port, d2)).body).toBe('A');
    expect((await get(port, d)).body).toBe('B');
  });

  it('starts the ingress again when it died and a change comes', async () => {
    const d = domain('respawn');
    await client.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    const oldPid = (await client.health()).pid;
    process.kill(oldPid, 'SIGKILL');
    await until('the ingress to die', () => !processAlive(oldPid) || isZombie(oldPid));
    const d2 = domain('respawn2');
    await client.setRoute({ domain: d2, appId: 'app', targets: [b.target] });
    track(client);
    expect(client.pid).not.toBe(oldPid);
    expect((await get(port, d)).body).toBe('A');
    expect((await get(port, d2)).body).toBe('B');
  });

  it('is adopted, not replaced, by a second client; shutdown ends it and removes its socket and pid file', async () => {
    const second = await clientFor(dataDir, port);
    expect(second.spawned).toBe(false);
    expect(second.pid).toBe(client.pid);
    expect(second.routes()).toEqual(client.routes());
    const pid = second.pid!;
    await second.shutdown();
    expect(processAlive(pid) && !isZombie(pid)).toBe(false);
    expect(fs.existsSync(files.socket)).toBe(false);
    expect(fs.existsSync(files.pid)).toBe(false);
    expect(fs.existsSync(files.routes)).toBe(true);
    await expect(get(port, domain('gone'))).rejects.toThrow();
  });
});

describe('an unreadable saved table', () => {
  it('is kept aside and the ingress starts without it, taking routes again from the control plane', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const files = ingressFiles(dataDir);
    fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(files.routes, '{"routes": [', { mode: 0o600 });

    const c = await clientFor(dataDir, port);
    expect(c.spawned).toBe(true);
    expect(c.routes()).toEqual([]);
    const aside = fs.readdirSync(files.dir).filter((f) => f.startsWith('routes.json.unreadable-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(`${files.dir}/${aside[0]}`, 'utf8')).toBe('{"routes": [');

    const d = domain('after-unreadable');
    await c.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    expect((await get(port, d)).body).toBe('A');
    expect((JSON.parse(fs.readFileSync(files.routes, 'utf8')) as { routes: unknown[] }).routes).toHaveLength(1);
  });
});

describe('an ingress started with another configuration', () => {
  it('is restarted on the configured port by the next client, with its routes', async () => {
    const dataDir = tempDataDir();
    const [oldPort, newPort] = [await freePort(), await freePort()];
    const first = await clientFor(dataDir, oldPort);
    const d = domain('moved');
    await first.setRoute({ domain: d, appId: 'app', targets: [a.target] });
    await first.stop();

    const moved = await clientFor(dataDir, newPort);
    expect(moved.spawned).toBe(true);
    expect(moved.pid).not.toBe(first.pid);
    expect(processAlive(first.pid!) && !isZombie(first.pid!)).toBe(false);
    expect((await moved.health()).port).toBe(newPort);
    expect((await get(newPort, d)).body).toBe('A');
    await expect(get(oldPort, d)).rejects.toThrow();
  });
});

describe('a control plane with INGRESS_PROCESS=separate', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('starts the ingress on its first start, leaves it serving when it closes, and a restarted one adopts it (same pid)', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const env = { INGRESS_PROCESS: 'separate', INGRESS_PORT: String(port), INGRESS_HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
    h = await startHarness(env, { dataDir });
    const first = h.deps.ingress as IngressClient;
    track(first);
    expect(first.spawned).toBe(true);
    const pid = first.pid!;
    expect(h.deps.ingress.urlFor('x.example.com')).toBe(`http://x.example.com:${port}`);
    const d = domain('cp');
    await h.deps.ingress.setRoute({ domain: d, appId: 'app_x', targets: [a.target] });
    expect((await get(port, d)).body).toBe('A');

    // The control plane goes away (a restart): the ingress keeps serving.
    await h.close({ keepIngress: true });
    h = undefined;
    expect(processAlive(pid)).toBe(true);
    expect((await get(port, d)).body).toBe('A');

    // The next control plane adopts it; its first pass replaces the table with what the database says (no apps).
    h = await startHarness(env, { dataDir });
    const second = h.deps.ingress as IngressClient;
    expect(second.spawned).toBe(false);
    expect(second.pid).toBe(pid);
    expect(second.routes()).toEqual([]);
    expect((await get(port, d)).status).toBe(404);

    // A stop on purpose (what main.ts does on SIGTERM) ends it.
    await h.close();
    h = undefined;
    expect(processAlive(pid) && !isZombie(pid)).toBe(false);
  });
});
