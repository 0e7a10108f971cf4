// Every answer has the error shape, the HTTP layer's own included: malformed requests sent as raw bytes to a
// listening server, each answered `{ error: <code>, message }` with the catalog's status. And the API server's
// timeouts: a client that sends its headers slowly is cut off (408 request_timeout), over a live socket.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_STATUS } from '../src/errors/app-error.js';
import { buildServer, DEFAULT_TIMEOUTS } from '../src/http/build-server.js';
import { startHarness, uniqueEmail, type Harness } from './harness.js';
import { until } from './wait.js';

let h: Harness;
let port: number;

beforeAll(async () => {
  h = await startHarness();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  port = (h.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await h.close();
});

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: any;
  text: string;
  closed: boolean;
}

function parse(text: string): Omit<RawReply, 'closed'> {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  const bodyText = rest.join('\r\n\r\n');
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body, text };
}

/**
 * Sends raw bytes and reads the first answer: resolves when the server closed the connection, or once a complete
 * answer (by its Content-Length) arrived on a connection it keeps open.
 */
function raw(bytes: string | Buffer, to = port): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const c = net.connect(to, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      c.destroy();
      resolve({ ...parse(buf.toString('utf8')), closed });
    };
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (end !== -1 && len && Buffer.byteLength(text.slice(end + 4)) >= Number(len[1])) setImmediate(() => finish(c.readableEnded));
    });
    c.on('end', () => finish(true));
    c.on('close', () => finish(true));
    c.on('error', (e) => (buf.length ? finish(true) : reject(e)));
    c.write(bytes);
  });
}

function expectShape(r: RawReply, status: number, code: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type'], r.text).toMatch(/^application\/json/);
  expect(r.body, r.text).toEqual({ error: code, message: expect.any(String) });
  expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS]).toBe(status);
}

describe('malformed requests answer the error shape', () => {
  const cases: [string, string | Buffer, number, string][] = [
    ['Transfer-Encoding together with Content-Length', 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request'],
    ['a bad chunk size', 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400, 'bad_request'],
    ['a NUL in a header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400, 'bad_request'],
    ['an unknown method', 'FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    ['two Content-Length headers', 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'bad_request'],
    ['a space in a header name', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400, 'bad_request'],
    ['an unsupported HTTP version', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    ['oversized headers', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'header_too_large'],
    ['an oversized request line', `GET /healthz?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'header_too_large'],
    ['a bad escape (%zz)', 'GET /apps/%zz HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    ['a bad escape in a static path', 'GET /health%zz HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    ['overlong UTF-8 (%C0%AF)', 'GET /apps/%C0%AF HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    ['a request without Host', 'GET /healthz HTTP/1.1\r\n\r\n', 400, 'bad_request'],
    ['a plain GET on the app log stream', 'GET /apps/app_x/logs/stream HTTP/1.1\r\nHost: x\r\n\r\n', 426, 'upgrade_required'],
    ['a plain GET on the deployment log stream', 'GET /apps/app_x/deployments/dep_x/logs/stream?token=t HTTP/1.1\r\nHost: x\r\n\r\n', 426, 'upgrade_required'],
    ['a WebSocket handshake without Sec-WebSocket-Key', 'GET /apps/app_x/logs/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n', 400, 'bad_request'],
    ['a WebSocket handshake with a bad version', 'GET /apps/app_x/logs/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n', 400, 'bad_request'],
    ['an upgrade to another protocol', 'GET /apps/app_x/logs/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n', 400, 'bad_request'],
    ['an unknown method Node knows', 'PROPFIND /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'not_found'],
    ['an upgrade to an unknown path', 'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 404, 'not_found'],
  ];
  for (const [what, bytes, status, code] of cases) {
    it(`${what} → ${status} ${code}`, async () => {
      expectShape(await raw(bytes), status, code);
    });
  }

  it('the bad-escape answer does not echo the path (it may carry a token)', async () => {
    const r = await raw('GET /apps/%zz?token=eyJ.secret.value HTTP/1.1\r\nHost: x\r\n\r\n');
    expectShape(r, 400, 'bad_request');
    expect(r.text).not.toContain('secret');
  });

  it('an upgrade request answered in plain HTTP does not leave its socket open', async () => {
    const before = await new Promise<number>((r) => h.app.server.getConnections((_e, n) => r(n)));
    const c = net.connect(port, '127.0.0.1');
    let closed = false;
    c.on('close', () => (closed = true));
    c.on('error', () => {});
    c.resume(); // read (and drop) the answer, so the server's FIN is seen
    c.write('GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    // The server closes it (the client never does).
    await until('the server to close the upgrade socket', () => closed);
    await until('the server to hold no more connections than before', async () => (await new Promise<number>((r) => h.app.server.getConnections((_e, n) => r(n)))) <= before);
  });

  it('the plain GET on a log stream tells the client to upgrade', async () => {
    const r = await raw('GET /apps/app_x/logs/stream HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.headers.upgrade).toBe('websocket');
  });

  it('a well-formed request on the same server is unaffected', async () => {
    const r = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
  });
});

describe('the OpenAPI document', () => {
  it("lists the HTTP layer's codes in the error schema and on the log-stream paths", async () => {
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    for (const code of ['bad_request', 'header_too_large', 'request_timeout', 'upgrade_required']) {
      expect(doc.components.schemas.Error.properties.error.enum).toContain(code);
      expect(ERROR_CODES).toContain(code);
    }
    const stream = doc.paths['/apps/{id}/logs/stream'].get.responses;
    expect(stream['426'].description).toContain('`upgrade_required`');
    expect(stream['400'].description).toContain('`bad_request`');
  });
});

describe('the API server times out slow clients', () => {
  it('runs with bounded header, request, keep-alive and idle timeouts by default', () => {
    const s = h.app.server;
    expect(s.headersTimeout).toBe(DEFAULT_TIMEOUTS.headersMs);
    expect(s.requestTimeout).toBe(DEFAULT_TIMEOUTS.requestMs);
    expect(s.keepAliveTimeout).toBe(DEFAULT_TIMEOUTS.keepAliveMs);
    expect(s.timeout).toBe(DEFAULT_TIMEOUTS.idleMs);
    expect(DEFAULT_TIMEOUTS.headersMs).toBeLessThanOrEqual(15_000);
    expect(DEFAULT_TIMEOUTS.headersMs).toBeLessThan(DEFAULT_TIMEOUTS.requestMs);
    expect(DEFAULT_TIMEOUTS.checkIntervalMs).toBeLessThanOrEqual(DEFAULT_TIMEOUTS.headersMs / 2);
  });

  let slow: FastifyInstance;
  let slowPort: number;
  beforeAll(async () => {
    // The same wiring with short timeouts (the defaults are seconds long), on its own socket.
    slow = await buildServer(h.deps, h.services, { timeouts: { headersMs: 400, requestMs: 800, checkIntervalMs: 50, keepAliveMs: 300 } });
    await slow.listen({ port: 0, host: '127.0.0.1' });
    slowPort = (slow.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await slow.close();
  });

  it('cuts off a client sending its headers a byte at a time, answering 408 request_timeout, then closes', async () => {
    const c = net.connect(slowPort, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    let got = '';
    let closed = false;
    c.on('data', (d) => (got += d.toString()));
    c.on('close', () => (closed = true));
    c.on('error', () => {});
    const start = Date.now();
    const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
    let i = 0;
    const drip = setInterval(() => {
      if (closed || i >= request.length) return clearInterval(drip);
      c.write(request[i++]!);
    }, 20);
    try {
      await until('the server to close the slow connection', () => closed, { timeoutMs: 10_000 });
    } finally {
      clearInterval(drip);
    }
    // Cut off long before the client would have finished (1,000+ bytes at 20 ms each), soon after headersMs.
    expect(Date.now() - start).toBeLessThan(5_000);
    expect(i).toBeLessThan(request.length);
    const r = parse(got);
    expect(r.status).toBe(408);
    expect(r.body).toEqual({ error: 'request_timeout', message: expect.any(String) });
  });

  it('cuts off a client that sends its body too slowly', async () => {
    const c = net.connect(slowPort, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    let got = '';
    let closed = false;
    c.on('data', (d) => (got += d.toString()));
    c.on('close', () => (closed = true));
    c.on('error', () => {});
    c.write('POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const drip = setInterval(() => !closed && c.write(' '), 50);
    try {
      await until('the server to close the slow upload', () => closed, { timeoutMs: 10_000 });
    } finally {
      clearInterval(drip);
    }
    expect(parse(got).status).toBe(408);
  });

  it('closes an idle keep-alive connection', async () => {
    const c = net.connect(slowPort, '127.0.0.1');
    let got = '';
    let closed = false;
    c.on('data', (d) => (got += d.toString()));
    c.on('close', () => (closed = true));
    c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the answer', () => got.includes('{"ok":true}'));
    expect(closed).toBe(false);
    await until('the idle keep-alive connection to close', () => closed, { timeoutMs: 5_000 });
  });

  it('leaves upgraded log streams alone: they outlive every request timeout', async () => {
    const r = await slow.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail('slowws'), password: 'correct horse battery' } });
    const token = r.json().accessToken as string;
    // An app of this user is needed for the stream to stay open: the deployment stream of an unknown app closes 4404,
    // so the app stream is followed through the fake engine.
    const deploy = await slow.inject({ method: 'POST', url: '/deploy', payload: { name: `slow-${process.pid}`, image: 'acme/web:1', port: 8080 }, headers: { authorization: `Bearer ${token}` } });
    expect(deploy.statusCode, deploy.body).toBe(202);
    const ws = new WebSocket(`ws://127.0.0.1:${slowPort}/apps/${deploy.json().appId}/logs/stream?token=${token}`);
    const messages: string[] = [];
    let closed: number | null = null;
    ws.on('message', (m) => messages.push(String(m)));
    ws.on('close', (code) => (closed = code));
    await until('the stream to be ready', () => messages.some((m) => m.includes('"ready"')));
    const openedAt = Date.now();
    // Past requestMs (800) and keepAliveMs with many checks in between: still open.
    await until('2 s to pass with the stream open', () => closed !== null || Date.now() - openedAt > 2_000, { timeoutMs: 5_000 });
    expect(closed).toBeNull();
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});
