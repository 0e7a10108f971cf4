// A real-engine test app that speaks HTTP and WebSocket on one port, and the clients that use it through an ingress.
// The image is FROM scratch: this machine's own `node` binary and the libraries `ldd` names, plus a tiny server
// (HTTP echo of the request's routing headers, and a hand-written RFC 6455 echo: no npm package in the image).
//
// Stable API (other test files build on it): buildWsAppImage, openAppSocket, pollApp, WS_APP_PORT.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { DockerDriver, Labels } from '@cynchro/docker-driver';
import { WebSocket } from 'ws';

/** The port the app listens on inside its container (deploy it with `port: WS_APP_PORT`). */
export const WS_APP_PORT = 8080;

/**
 * The app. GET (any path) → 200 JSON {app, hostname, path, host, xff, xfp, xfh}; a WebSocket upgrade → 101, then
 * every text message comes back as `echo:<text>`; ping → pong; close → close. `APP_NAME` (env) names it in answers.
 */
export const WS_APP_SOURCE = String.raw`'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const os = require('node:os');
const name = process.env.APP_NAME || 'ws-app';
const server = http.createServer((req, res) => {
  const h = req.headers;
  const body = JSON.stringify({ app: name, hostname: os.hostname(), path: req.url, host: h.host, xff: h['x-forwarded-for'], xfp: h['x-forwarded-proto'], xfh: h['x-forwarded-host'] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
});
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255]) : null;
  if (!head) throw new Error('frame too large');
  return Buffer.concat([head, payload]);
}
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (!key || String(req.headers.upgrade).toLowerCase() !== 'websocket') return socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  let buf = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 15, masked = (buf[1] & 128) !== 0;
      let len = buf[1] & 127, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const mask = masked ? buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const data = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
      buf = buf.subarray(off + len);
      if (opcode === 1) socket.write(frame(1, Buffer.from('echo:' + data.toString('utf8'))));
      else if (opcode === 9) socket.write(frame(10, data));
      else if (opcode === 8) { socket.end(frame(8, data.subarray(0, 2))); return; }
    }
  });
});
server.listen(Number(process.env.PORT || ${WS_APP_PORT}), '0.0.0.0', () => console.log(name + ' listening on ' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

/** This machine's node and the shared libraries it loads (resolved through symlinks), as absolute paths. */
function nodeRuntimeFiles(): string[] {
  const node = fs.realpathSync(process.execPath);
  const ldd = spawnSync('ldd', [node], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${node} failed: ${ldd.stderr}`);
  const libs = [...ldd.stdout.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  return [node, ...libs];
}

/** Writes a build context: the runtime files at their own paths under rootfs/, the app, and the Dockerfile. */
function wsAppDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-wsapp-'));
  const node = fs.realpathSync(process.execPath);
  for (const file of nodeRuntimeFiles()) {
    const dest = path.join(dir, 'rootfs', file);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    // Hard link when possible (same filesystem): the ~100 MB binary is not copied on every run.
    try {
      fs.linkSync(fs.realpathSync(file), dest);
    } catch {
      fs.copyFileSync(file, dest);
    }
    fs.chmodSync(dest, 0o755);
  }
  fs.writeFileSync(path.join(dir, 'app.js'), WS_APP_SOURCE);
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    `FROM scratch\nCOPY rootfs/ /\nCOPY app.js /app/app.js\nENV PORT=${WS_APP_PORT}\nEXPOSE ${WS_APP_PORT}\n` +
      `CMD ["${node}", "/app/app.js"]\n`,
  );
  return dir;
}

/**
 * Builds the app's image, labelled with `labels` (use imageLabels() from @cynchro/docker-driver/testing, so the
 * test's cleanup removes it), and returns its tag, to deploy as `{ image: tag, port: WS_APP_PORT }`.
 */
export async function buildWsAppImage(docker: DockerDriver, labels: Labels): Promise<string> {
  const dir = wsAppDir();
  try {
    const tag = `cynchro-test-wsapp:${randomBytes(4).toString('hex')}`;
    await docker.buildFromDirectory({ dir, tag, labels });
    return tag;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** How to reach an app through an ingress: its URL plus, when the URL's host does not resolve here, where to connect. */
export interface AppTarget {
  /** `http://<domain>:<port>` or `https://<domain>` (as urlFor gives), or a loopback URL with `host` set. */
  url: string;
  /** Host header (and TLS server name) to send; default the URL's host name. */
  host?: string;
  /** Connect to this address instead of resolving the URL's host (default 127.0.0.1: every test stays on loopback). */
  connectTo?: string;
  /** TLS: trust these CAs, or skip verification when undefined (a test CA such as Caddy's internal one). */
  ca?: string | Buffer;
}

function parts(t: AppTarget): { url: URL; host: string; lookup: http.RequestOptions['lookup']; tls: https.RequestOptions } {
  const url = new URL(t.url);
  const host = t.host ?? url.hostname;
  const address = t.connectTo ?? '127.0.0.1';
  const family = address.includes(':') ? 6 : 4;
  const lookup = ((_h: string, o: { all?: boolean }, cb: (e: Error | null, a: unknown, f?: number) => void) =>
    o.all ? cb(null, [{ address, family }]) : cb(null, address, family)) as never;
  const tls: https.RequestOptions = url.protocol === 'https:' ? { servername: host, ...(t.ca ? { ca: t.ca } : { rejectUnauthorized: false }) } : {};
  return { url, host, lookup, tls };
}

export interface AppSocket {
  readonly ws: WebSocket;
  /** Sends `text`, resolves with the app's answer (`echo:<text>`); rejects after timeoutMs (default 5 s). */
  roundTrip(text: string, timeoutMs?: number): Promise<string>;
  isOpen(): boolean;
  /** Set once the socket closed: the close code, or the error that ended it. */
  readonly closedWith: string | undefined;
  close(): Promise<void>;
}

/** Opens a WebSocket to the app through the ingress at `target` (resolves once open; rejects on any refusal). */
export async function openAppSocket(target: AppTarget, path = '/ws'): Promise<AppSocket> {
  const p = parts(target);
  const wsUrl = `${p.url.protocol === 'https:' ? 'wss' : 'ws'}://${p.url.host}${path}`;
  const ws = new WebSocket(wsUrl, { headers: { host: p.host }, lookup: p.lookup, ...p.tls } as WebSocket.ClientOptions);
  let closedWith: string | undefined;
  ws.on('close', (code) => (closedWith ??= `close ${code}`));
  ws.on('error', (err) => (closedWith ??= `error ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  return {
    ws,
    get closedWith() {
      return closedWith;
    },
    isOpen: () => ws.readyState === WebSocket.OPEN,
    roundTrip(text, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no answer to ${JSON.stringify(text)} within ${timeoutMs} ms`)), timeoutMs);
        const onMessage = (data: unknown) => done(undefined, String(data));
        const onClose = () => done(new Error(`socket closed (${closedWith})`));
        function done(err: Error | undefined, answer?: string) {
          clearTimeout(timer);
          ws.off('message', onMessage);
          ws.off('close', onClose);
          if (err) reject(err);
          else resolve(answer!);
        }
        ws.on('message', onMessage);
        ws.once('close', onClose);
        ws.send(text);
      });
    },
    close() {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
        setTimeout(() => ws.terminate(), 2_000).unref();
      });
    },
  };
}

export interface AppReply {
  status: number;
  body: string;
}

/** One GET through the ingress at `target` (a new connection unless `agent`), bounded by timeoutMs (default 5 s). */
export function getApp(target: AppTarget, path = '/', opts: { agent?: http.Agent; timeoutMs?: number } = {}): Promise<AppReply> {
  const p = parts(target);
  const mod = p.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host: p.url.hostname, port: p.url.port || undefined, path, lookup: p.lookup, agent: opts.agent ?? false, headers: { host: p.host }, ...p.tls },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(opts.timeoutMs ?? 5_000, () => req.destroy(new Error('client timeout')));
    req.end();
  });
}

export interface PollResult {
  ok: number;
  failed: number;
  /** The first few failures, as `status <n>: <body>` or the error message. */
  failures: string[];
  /** Answers per app `hostname` (container), so a test can see which replicas served. */
  byContainer: Record<string, number>;
}

export interface Poller {
  /** What it has counted so far. */
  readonly result: PollResult;
  /** Stops after the request in flight and resolves with the counts. */
  stop(): Promise<PollResult>;
}

/**
 * GETs the app every `everyMs` (default 20) until stopped, one request at a time, counting every answer that is not
 * a 200 from the app, and every error, as a failure. Nothing is retried. `agent`: reuse connections (keep-alive)
 * as a browser would; default a new connection per request.
 */
export function pollApp(target: AppTarget, opts: { everyMs?: number; agent?: http.Agent; path?: string } = {}): Poller {
  const result: PollResult = { ok: 0, failed: 0, failures: [], byContainer: {} };
  let stopped = false;
  const fail = (what: string) => {
    result.failed++;
    if (result.failures.length < 20) result.failures.push(`${new Date().toISOString()} ${what}`);
  };
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        const r = await getApp(target, opts.path ?? '/', { agent: opts.agent });
        const app = r.status === 200 ? (JSON.parse(r.body) as { hostname?: string }) : undefined;
        if (app?.hostname) {
          result.ok++;
          result.byContainer[app.hostname] = (result.byContainer[app.hostname] ?? 0) + 1;
        } else fail(`status ${r.status}: ${r.body.slice(0, 200)}`);
      } catch (err) {
        fail((err as Error).message);
      }
      const wait = (opts.everyMs ?? 20) - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    result,
    async stop() {
      stopped = true;
      await loop;
      return result;
    },
  };
}
