// The control plane's side of the ingress process: an `Ingress` whose every change goes over the control channel
// (see ingress-channel.ts) and is confirmed there before it resolves. It starts nothing it finds running: an
// ingress that answers health with our token is adopted as it is (its routes stay until the control plane's first
// replaceAll); only when none answers is one spawned, and then waited for.
//
// stop() only lets go of the channel: the ingress keeps serving (a control plane restart or upgrade). shutdown()
// ends the ingress too (a stop on purpose).
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Logger } from 'pino';
import { ensureIngressDir, ingressFiles, processAlive, type IngressFiles } from './ingress-files.js';
import { ensureIngressToken } from './ingress-token.js';
import { copyRoute, IngressError, normalizeDomain, normalizeRoute, normalizeTable, type Ingress, type IngressRoute } from './ingress.js';
import { spawnIngress } from './spawn-ingress.js';

export interface IngressClientOptions {
  dataDir: string;
  /** `caddy`: Caddy fronts the ingress and app URLs are https://<domain>; `embedded`: http://<domain>:<port>. */
  kind: 'embedded' | 'caddy';
  /** The port the ingress serves apps on (for URLs, and given to an ingress this client starts). */
  port: number;
  /** The URL a browser opens for a domain (default from kind and port, see urlFor). */
  urlFor?: (domain: string) => string;
  /** The address an ingress this client starts listens on. */
  host: string;
  logLevel?: string;
  log?: Logger;
  /** false: never start one (fail when none runs). Default: start one when none answers. */
  spawn?: boolean;
  /** The ingress entry to start (default ingress-main beside this code). */
  entry?: string;
  /** How long a started ingress has to answer health. Default 30 s (a cold tsx start on a loaded machine). */
  startTimeoutMs?: number;
  /** Each channel request's limit. Default 15 s. */
  requestTimeoutMs?: number;
}

export interface IngressHealth {
  pid: number;
  routes: number;
  port: number;
  /** Absent from an ingress of an earlier version. */
  host?: string | null;
  kind?: 'embedded' | 'caddy' | null;
}

export interface IngressClient extends Ingress {
  /** The ingress's pid as of the last connection or health(). */
  readonly pid: number | undefined;
  /** Whether this client started the ingress (false: adopted a running one). */
  readonly spawned: boolean;
  health(): Promise<IngressHealth>;
  shutdown(): Promise<void>;
}

class ChannelError extends IngressError {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Nothing answers on the socket (no ingress, or a dead one's socket file). */
    readonly unreachable = false,
  ) {
    super(message);
  }
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

export function channelRequest(socketPath: string, token: string, method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<any> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: any;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(new ChannelError(`ingress answered ${status}: ${parsed?.message ?? text}`, status));
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(new ChannelError(`ingress control channel: ${err.message}`, undefined, UNREACHABLE.has(err.code ?? ''))),
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.end(payload);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createIngressClient(o: IngressClientOptions): IngressClient {
  const log = o.log?.child({ module: 'ingress', ingress: 'process' });
  const files: IngressFiles = ingressFiles(o.dataDir);
  let token: string | undefined;
  let table = new Map<string, IngressRoute>();
  let ready: Promise<void> | undefined;
  let pid: number | undefined;
  let spawned = false;
  let servingPort = o.port;
  // Changes go out one at a time, in call order, as the in-process table applies them.
  let chain: Promise<unknown> = Promise.resolve();

  const request = (method: string, path: string, body?: unknown) =>
    channelRequest(files.socket, token!, method, path, body, o.requestTimeoutMs);

  async function tryHealth(): Promise<IngressHealth | undefined> {
    try {
      return (await request('GET', '/health')) as IngressHealth;
    } catch (err) {
      if (err instanceof ChannelError && err.unreachable) return undefined;
      if (err instanceof ChannelError && err.status === 401) {
        throw new IngressError(`The ingress on ${files.socket} refuses the token in ${files.token}`);
      }
      throw err;
    }
  }

  async function waitForStarted(child: ChildProcess): Promise<IngressHealth> {
    let exitedAt: number | undefined;
    let exit = '';
    child.once('exit', (code, signal) => {
      exitedAt = Date.now();
      exit = `exited with ${signal ?? code}`;
    });
    const limit = o.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + limit;
    for (;;) {
      // Listening but not answering yet counts as not yet; a refused token does not.
      const h = await tryHealth().catch((err: unknown) => {
        if (err instanceof ChannelError) return undefined;
        throw err;
      });
      if (h) return h;
      // One that lost a start race to another ingress exits at once; the winner answers within moments.
      if (exitedAt !== undefined && Date.now() - exitedAt > 3_000) throw new IngressError(`The ingress process ${exit} before answering (see ${files.log})`);
      if (Date.now() > deadline) throw new IngressError(`The ingress process did not answer within ${limit} ms (see ${files.log})`);
      await sleep(50);
    }
  }

  /** What differs between a running ingress and this configuration, or undefined when it serves as configured. */
  function staleness(h: IngressHealth): Record<string, unknown> | undefined {
    const differs: Record<string, unknown> = {};
    if (o.port !== 0 && h.port !== o.port) differs.port = { serving: h.port, configured: o.port };
    if (h.host != null && h.host !== o.host) differs.host = { serving: h.host, configured: o.host };
    if (h.kind != null && h.kind !== o.kind) differs.kind = { serving: h.kind, configured: o.kind };
    return Object.keys(differs).length ? differs : undefined;
  }

  async function stopProcess(h: IngressHealth): Promise<void> {
    await request('POST', '/shutdown');
    const deadline = Date.now() + 15_000;
    while (processAlive(h.pid)) {
      if (Date.now() > deadline) throw new IngressError(`The ingress (pid ${h.pid}) did not exit within 15 s of its shutdown`);
      await sleep(25);
    }
  }

  async function connect(): Promise<void> {
    ensureIngressDir(files);
    token = ensureIngressToken(files);
    let h = await tryHealth();
    const stale = h && staleness(h);
    if (h && stale) {
      // The configuration changed since it started (INGRESS_PORT, INGRESS_HOST or INGRESS): the operator asked for
      // the move, so this start makes it, at the cost of the moment between the two processes. Routes persist.
      log?.warn({ pid: h.pid, ...stale }, 'the running ingress serves with another configuration; restarting it');
      await stopProcess(h);
      h = undefined;
    }
    if (h) {
      log?.info({ pid: h.pid, routes: h.routes }, 'adopted the running ingress');
      spawned = false;
    } else {
      if (o.spawn === false) throw new IngressError(`No ingress answers on ${files.socket}`);
      const child = spawnIngress({
        entry: o.entry,
        logFile: files.log,
        env: {
          ...process.env,
          DATA_DIR: o.dataDir,
          INGRESS: o.kind,
          INGRESS_PORT: String(o.port),
          INGRESS_HOST: o.host,
          ...(o.logLevel ? { LOG_LEVEL: o.logLevel } : {}),
        },
      });
      h = await waitForStarted(child);
      spawned = h.pid === child.pid;
      log?.info({ pid: h.pid, routes: h.routes, log: files.log }, spawned ? 'started the ingress process' : 'adopted an ingress started meanwhile');
    }
    pid = h.pid;
    servingPort = o.port === 0 ? h.port : o.port;
    const { routes } = (await request('GET', '/routes')) as { routes: IngressRoute[] };
    table = normalizeTable(routes);
  }

  function ensureReady(): Promise<void> {
    ready ??= connect().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  }

  /** One change: sent once; when nothing answers (the ingress died), started again and sent once more. */
  function change<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(async () => {
      await ensureReady();
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ChannelError && err.unreachable)) throw err;
        log?.warn({ err: err.message }, 'the ingress does not answer; starting it again');
        ready = undefined;
        await ensureReady();
        return fn();
      }
    });
    chain = run.catch(() => undefined);
    return run;
  }

  return {
    kind: o.kind,
    get pid() {
      return pid;
    },
    get spawned() {
      return spawned;
    },

    start: () => ensureReady(),

    async stop() {
      await chain;
      ready = undefined;
    },

    async health() {
      await ensureReady();
      const h = (await request('GET', '/health')) as IngressHealth;
      pid = h.pid;
      return h;
    },

    async shutdown() {
      await chain;
      token ??= ensureIngressToken(files);
      const h = await tryHealth();
      if (!h) return;
      await stopProcess(h);
      ready = undefined;
      log?.info({ pid: h.pid }, 'ingress stopped');
    },

    async setRoute(route) {
      const r = normalizeRoute(route); // refused here, before anything is sent, like the in-process table
      return change(async () => {
        await request('POST', '/routes', { route: r });
        table.set(r.domain, r);
      });
    },

    async removeRoute(domain) {
      const d = normalizeDomain(domain);
      return change(async () => {
        await request('DELETE', `/routes/${encodeURIComponent(d)}`);
        table.delete(d);
      });
    },

    async replaceAll(routes) {
      const next = normalizeTable(routes);
      return change(async () => {
        await request('PUT', '/routes', { routes: [...next.values()] });
        table = next;
      });
    },

    routes() {
      return [...table.values()].map(copyRoute);
    },

    urlFor(domain) {
      if (o.urlFor) return o.urlFor(domain);
      const d = normalizeDomain(domain);
      if (o.kind === 'caddy') return `https://${d}`;
      return `http://${d}${servingPort === 80 ? '' : `:${servingPort}`}`;
    },
  };
}
