// The embedded ingress against slow clients and noisy neighbours, with live sockets: idle WebSockets are closed,
// one client address holds a bounded number of connections, and the HTTP server's own timeouts hold.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { until } from '../../../test/wait.js';
import { clientKeyOf, createEmbeddedIngress, TOO_MANY_CONNECTIONS_BODY, type EmbeddedIngress, type EmbeddedIngressOptions } from './embedded-ingress.js';

const DOMAIN = 'app.ingress.test';

interface Backend {
  port: number;
  /** WebSocket connections the backend saw close. */
  wsClosed: number;
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  // Answers once the whole request body has arrived, as an app reading a form or an upload does.
  const server = http.createServer((req, res) => {
    req.resume();
    req.once('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${req.url}`));
  });
  const wss = new WebSocketServer({ server });
  const state = { wsClosed: 0 };
  wss.on('connection', (sock) => {
    sock.on('message', (data) => sock.send(`echo:${String(data)}`));
    sock.on('close', () => state.wsClosed++);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get wsClosed() {
      return state.wsClosed;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let backend: Backend;
let ingress: EmbeddedIngress | undefined;
const sockets: (net.Socket | WebSocket)[] = [];

beforeAll(async () => {
  backend = await startBackend();
});
afterAll(async () => {
  await backend.close();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s instanceof WebSocket ? s.terminate() : s.destroy();
  await ingress?.stop();
  ingress = undefined;
});

async function startIngress(opts: Partial<EmbeddedIngressOptions>): Promise<EmbeddedIngress> {
  ingress = createEmbeddedIngress({ port: 0, host: '127.0.0.1', shutdownGraceMs: 100, ...opts });
  await ingress.start();
  await ingress.setRoute({ domain: DOMAIN, appId: 'app', targets: [{ host: '127.0.0.1', port: backend.port }] });
  return ingress;
}

function openWs(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: DOMAIN } });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function roundTrip(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.send(text);
  });
}

/** A raw TCP connection to the ingress (optionally from another loopback address), with everything it received. */
async function rawConnection(port: number, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; received: () => string; closed: () => boolean }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  sockets.push(socket);
  let data = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed: () => closed };
}

const GET = (keepAlive = true) => `GET /x HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;

describe('idle upgraded connections', () => {
  it('closes a WebSocket with no traffic for upgradeIdleTimeoutMs, on both sides', async () => {
    const { port } = await startIngress({ upgradeIdleTimeoutMs: 300 });
    const ws = await openWs(port);
    expect(await roundTrip(ws, 'hi')).toBe('echo:hi');
    const closedBefore = backend.wsClosed;
    const since = Date.now();
    let closedAt = 0;
    ws.once('close', () => (closedAt = Date.now()));
    await until('the idle WebSocket to be closed', () => closedAt, { timeoutMs: 5_000 });
    expect(closedAt - since).toBeGreaterThanOrEqual(250);
    // The app's end goes too: nothing stays open on the app for a connection no client holds.
    await until('the backend to see its WebSocket close', () => backend.wsClosed > closedBefore, { timeoutMs: 5_000 });
  });

  it('keeps a WebSocket with traffic, however long it lasts', async () => {
    const { port } = await startIngress({ upgradeIdleTimeoutMs: 300 });
    const ws = await openWs(port);
    // Twelve exchanges 100 ms apart: four idle timeouts long, never idle for one.
    for (let i = 0; i < 12; i++) {
      expect(await roundTrip(ws, `m${i}`)).toBe(`echo:m${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('connections per client', () => {
  it('answers one connection beyond the cap with 429 rate_limited (JSON) and closes it; others and other clients are served', async () => {
    const { port } = await startIngress({ maxConnectionsPerClient: 3 });
    const held = await Promise.all([0, 1, 2].map(() => rawConnection(port)));
    // Each of the three is served, and stays open (keep-alive).
    for (const c of held) c.socket.write(GET());
    await until('the three held connections to be answered', () => held.every((c) => c.received().includes('ok /x')));

    const fourth = await rawConnection(port);
    fourth.socket.write(GET());
    await until('the fourth connection to be answered and closed', () => fourth.closed());
    const [head, body] = fourth.received().split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 429 /);
    expect(head!.toLowerCase()).toContain('content-type: application/json');
    expect(head!.toLowerCase()).toContain('retry-after: 1');
    expect(JSON.parse(body!)).toEqual(JSON.parse(TOO_MANY_CONNECTIONS_BODY));
    expect(JSON.parse(body!).error).toBe('rate_limited');

    // A WebSocket upgrade over the cap is refused the same way.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: DOMAIN } });
    sockets.push(ws);
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(-1));
    });
    expect(status).toBe(429);

    // Another client address has its own allowance.
    const other = await rawConnection(port, '127.0.0.2');
    other.socket.write(GET(false));
    await until('the other client to be served', () => other.received().includes('ok /x'));

    // Closing one held connection makes room again.
    held[0]!.socket.destroy();
    await until('a new connection to be served once one closed', async () => {
      const c = await rawConnection(port);
      c.socket.write(GET(false));
      await until('an answer', () => c.closed() || c.received().includes('\r\n\r\n'), { timeoutMs: 2_000 });
      return c.received().startsWith('HTTP/1.1 200');
    });
    for (const c of held.slice(1)) expect(c.closed()).toBe(false);
  });

  it('cuts a connection over the cap that never sends a request', async () => {
    const { port } = await startIngress({ maxConnectionsPerClient: 1 });
    const first = await rawConnection(port);
    const silent = await rawConnection(port);
    await until('the silent connection over the cap to be cut', () => silent.closed(), { timeoutMs: 5_000 });
    expect(first.closed()).toBe(false);
  });

  it('does not cap a trusted proxy (Caddy in front), whose connections are every client\'s, and still caps others', async () => {
    const { port } = await startIngress({ maxConnectionsPerClient: 1, trustedProxies: ['127.0.0.1'] });
    const viaProxy = await Promise.all([0, 1, 2].map(() => rawConnection(port)));
    for (const c of viaProxy) c.socket.write(GET());
    await until('every connection from the trusted proxy to be answered', () => viaProxy.every((c) => c.received().includes('ok /x')));
    expect(viaProxy.every((c) => !c.closed())).toBe(true);

    const [first, second] = [await rawConnection(port, '127.0.0.2'), await rawConnection(port, '127.0.0.2')];
    first.socket.write(GET());
    second.socket.write(GET());
    await until('the second connection of an untrusted client to be refused', () => second.closed());
    expect(second.received()).toMatch(/^HTTP\/1\.1 429 /);
    expect(first.received()).toContain('ok /x');
  });

  it('keys IPv6 clients by their /64 and IPv4-mapped addresses as IPv4', () => {
    expect(clientKeyOf('2001:db8:1:2:aaaa::1')).toBe(clientKeyOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(clientKeyOf('2001:db8:1:2::1')).not.toBe(clientKeyOf('2001:db8:1:3::1'));
    expect(clientKeyOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKeyOf('10.1.2.3')).toBe('10.1.2.3');
    expect(clientKeyOf(undefined)).toBe('unknown');
  });
});

describe('HTTP timeouts', () => {
  it('cuts a client whose headers do not arrive within headersTimeoutMs', async () => {
    const { port } = await startIngress({ headersTimeoutMs: 300 });
    const c = await rawConnection(port);
    const since = Date.now();
    c.socket.write(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\n`);
    // A header line now and then, never the end of the headers (slowloris).
    const drip = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 100);
    try {
      await until('the slow client to be cut', () => c.closed(), { timeoutMs: 5_000 });
    } finally {
      clearInterval(drip);
    }
    expect(Date.now() - since).toBeGreaterThanOrEqual(250);
    expect(c.received()).not.toContain('200 OK');
  });

  it('answers 408 to a request whose body does not arrive within requestTimeoutMs', async () => {
    const { port } = await startIngress({ requestTimeoutMs: 400, headersTimeoutMs: 300 });
    const c = await rawConnection(port);
    c.socket.write(`POST / HTTP/1.1\r\nHost: ${DOMAIN}\r\nContent-Length: 100\r\n\r\nabc`);
    await until('the request to be timed out', () => c.closed(), { timeoutMs: 5_000 });
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a kept-alive connection idle for keepAliveTimeoutMs', async () => {
    const { port } = await startIngress({ keepAliveTimeoutMs: 300 });
    const c = await rawConnection(port);
    c.socket.write(GET());
    await until('the answer', () => c.received().includes('ok /x'));
    const since = Date.now();
    await until('the idle kept-alive connection to be closed', () => c.closed(), { timeoutMs: 5_000 });
    expect(Date.now() - since).toBeGreaterThanOrEqual(200);
  });
});
