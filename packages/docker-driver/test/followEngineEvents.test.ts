// The event stream's edges, against a stand-in engine on a unix socket: what the engine is asked, lines split
// anywhere, and how the iteration ends (abort, break, close) or fails (connection lost, no engine, no answer).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Dockerode from 'dockerode';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerodeDriver, DockerError, type DockerDriver, type EngineEvent } from '../src/index.js';
import { SecretKeeper } from '../src/SecretKeeper.js';

interface Request {
  url: URL;
  res: ServerResponse;
  closed: Promise<void>;
}

let dir: string;
let socketPath: string;
let server: Server;
let driver: DockerDriver;
let requests: Request[] = [];
let onRequest: ((r: Request) => void) | undefined;

const event = (Action: string, id: string, timeNano: number, attrs: Record<string, string> = {}) =>
  `${JSON.stringify({ Type: 'container', Action, status: Action, id, Actor: { ID: id, Attributes: { 'cloud.cynchro.managed': 'true', name: `n-${id}`, ...attrs } }, time: Math.floor(timeNano / 1e9), timeNano })}\n`;

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Iterates in the background; `done` holds the error the iteration threw, or undefined when it ended. */
function consume(it: AsyncIterable<EngineEvent>, onEvent?: (ev: EngineEvent) => boolean | void) {
  const seen: EngineEvent[] = [];
  const done = (async () => {
    for await (const ev of it) {
      seen.push(ev);
      if (onEvent?.(ev) === false) break;
    }
  })().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { seen, done };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cynchro-events-engine-'));
  socketPath = join(dir, 'docker.sock');
  server = createHttpServer((req: IncomingMessage, res) => {
    const closed = new Promise<void>((r) => res.on('close', () => r()));
    const r: Request = { url: new URL(req.url ?? '/', 'http://engine'), res, closed };
    requests.push(r);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    onRequest?.(r);
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  driver = createDockerodeDriver({ docker: new Dockerode({ socketPath }), callTimeoutMs: 2000 });
});

beforeEach(() => {
  requests = [];
  onRequest = undefined;
});

afterAll(async () => {
  await driver?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('events() against a stand-in engine', () => {
  it('asks for managed containers only, since in seconds.millis, and parses lines split anywhere', async () => {
    const t = 1796193439746036729;
    const body = [
      event('create', 'a1', t),
      event('exec_create: sh -c true', 'a1', t + 1), // a health check's exec: dropped
      'not json at all\n',
      JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'n1', Attributes: {} }, timeNano: t + 2 }) + '\n',
      event('die', 'a1', t + 3e6, { exitCode: '137', 'cloud.cynchro.spec': '{"name":"é"}' }),
      event('health_status: healthy', 'a1', t + 4e6),
    ].join('');
    onRequest = async ({ res }) => {
      // Seven bytes at a time: every line, and the "é", arrives in pieces.
      const bytes = Buffer.from(body, 'utf8');
      for (let i = 0; i < bytes.length; i += 7) {
        res.write(bytes.subarray(i, i + 7));
        await new Promise((r) => setImmediate(r));
      }
    };
    const ac = new AbortController();
    const { seen, done } = consume(driver.events({ since: 1796193439746, signal: ac.signal }), () => seen.length < 3);
    expect(await done).toBeUndefined();
    const q = requests[0]?.url.searchParams;
    expect(JSON.parse(q?.get('filters') ?? '{}')).toEqual({
      type: ['container'],
      label: ['cloud.cynchro.managed=true'],
      event: ['create', 'start', 'die', 'kill', 'stop', 'destroy', 'oom', 'restart', 'health_status'],
    });
    expect(q?.get('since')).toBe('1796193439.746');
    expect(seen).toEqual([
      { action: 'create', containerId: 'a1', name: 'n-a1', labels: { 'cloud.cynchro.managed': 'true' }, time: 1796193439746 },
      { action: 'die', containerId: 'a1', name: 'n-a1', labels: { 'cloud.cynchro.managed': 'true' }, time: 1796193439749, exitCode: 137 },
      { action: 'health', containerId: 'a1', name: 'n-a1', labels: { 'cloud.cynchro.managed': 'true' }, time: 1796193439750, health: 'healthy' },
    ]);
    // Breaking out of the loop closed the request.
    await requests[0]?.closed;
  });

  it('throws DockerError engine when the connection breaks, after the events already received', async () => {
    onRequest = ({ res }) => {
      res.write(event('start', 'b1', Date.now() * 1e6));
      setImmediate(() => res.socket?.destroy());
    };
    const { seen, done } = consume(driver.events());
    const err = await done;
    expect(err).toBeInstanceOf(DockerError);
    expect(err).toMatchObject({ code: 'engine', message: expect.stringContaining('event stream broke') });
    expect(seen.map((e) => e.action)).toEqual(['start']);
  });

  it('throws DockerError engine when the engine ends the stream', async () => {
    onRequest = ({ res }) => res.end(event('start', 'c1', Date.now() * 1e6));
    const { seen, done } = consume(driver.events());
    expect(await done).toMatchObject({ code: 'engine', message: expect.stringContaining('ended its event stream') });
    expect(seen).toHaveLength(1);
  });

  it('ends quietly on abort, while waiting or before starting, and closes the request', async () => {
    const ac = new AbortController();
    const { done } = consume(driver.events({ signal: ac.signal }));
    const r = await until('the request', () => requests[0]);
    ac.abort();
    expect(await done).toBeUndefined();
    await r.closed;
    const pre = consume(driver.events({ signal: AbortSignal.abort() }));
    expect(await pre.done).toBeUndefined();
    expect(pre.seen).toEqual([]);
    expect(requests).toHaveLength(1);
  });

  it('ends the iterations begun before close(), and follows again afterwards', async () => {
    const d = createDockerodeDriver({ docker: new Dockerode({ socketPath }), callTimeoutMs: 2000 });
    const first = consume(d.events());
    const r = await until('the request', () => requests[0]);
    await d.close();
    expect(await first.done).toBeUndefined();
    await r.closed;
    onRequest = ({ res }) => res.write(event('start', 'd1', Date.now() * 1e6));
    const again = consume(d.events(), () => false);
    expect(await again.done).toBeUndefined();
    expect(again.seen.map((e) => e.containerId)).toEqual(['d1']);
  });

  it('throws DockerError engine when no engine listens', async () => {
    const down = createDockerodeDriver({ docker: new Dockerode({ socketPath: join(dir, 'nothing.sock') }), callTimeoutMs: 2000 });
    const { done } = consume(down.events());
    expect(await done).toMatchObject({ code: 'engine', message: expect.stringContaining('ENOENT') });
    await down.close();
  });

  it('times out the request of an engine that never answers', async () => {
    const hungPath = join(dir, 'hung.sock');
    const sockets = new Set<Socket>();
    const hung = createNetServer((s) => void sockets.add(s));
    await new Promise<void>((r) => hung.listen(hungPath, r));
    const d = createDockerodeDriver({ docker: new Dockerode({ socketPath: hungPath }), callTimeoutMs: 300 });
    try {
      const t0 = Date.now();
      const { done } = consume(d.events());
      expect(await done).toMatchObject({ code: 'timeout' });
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      await d.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hung.close(() => r()));
    }
  });
});

describe('the secret keeper after a broken event stream', () => {
  it('reconnects asking for the events since the last one it saw, so starts during a dockerd restart are not missed', async () => {
    const last = Date.now() + 60_000; // later than the connection time, so it decides the next `since`
    onRequest = ({ res }) => {
      if (requests.length === 1) res.end(event('start', 'unknown-container', last * 1e6 + 123_456));
    };
    const keeper = new SecretKeeper(new Dockerode({ socketPath }), 1000);
    try {
      const before = Date.now();
      keeper.set('c1', 'web', '', { K: 'v' });
      const first = await until('the first request', () => requests[0]);
      const since = Number(first.url.searchParams.get('since'));
      expect(since * 1000).toBeGreaterThanOrEqual(before - 1);
      const second = await until('the reconnect', () => requests[1], 5000);
      expect(second.url.searchParams.get('since')).toBe(`${Math.floor(last / 1000)}.${String(last % 1000).padStart(3, '0')}`);
    } finally {
      await keeper.close();
    }
  });
});
