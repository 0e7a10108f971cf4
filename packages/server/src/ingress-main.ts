// The ingress as its own process, so app traffic keeps flowing while the control plane restarts, is upgraded or
// crashes. It serves the route table it last confirmed (DATA_DIR/ingress/routes.json, loaded before it listens, so
// it never answers 404 for a domain an app holds) and takes changes over its control channel (ingress-channel.ts).
// Started by the control plane when none runs (spawn-ingress.ts) and adopted by every later one.
//
// Kept small on purpose: the ingress module, pino and http-proxy-3; no database, no Fastify, no Docker client.
// Environment: DATA_DIR, INGRESS_PORT (8080), INGRESS_HOST (0.0.0.0, or 127.0.0.1 with INGRESS=caddy), LOG_LEVEL.
// Signals: SIGTERM/SIGINT stop it (in-flight requests get a grace period); so does POST /shutdown on the channel.
import fs from 'node:fs';
import pino from 'pino';
import { createEmbeddedIngress } from './modules/ingress/embedded-ingress.js';
import { createIngressChannel } from './modules/ingress/ingress-channel.js';
import { channelRequest } from './modules/ingress/ingress-client.js';
import { defaultIngressHost, ensureIngressDir, ingressFiles, readIngressPid, trustedProxiesFor } from './modules/ingress/ingress-files.js';
import { ensureIngressToken } from './modules/ingress/ingress-token.js';
import { IngressError, type IngressRoute } from './modules/ingress/ingress.js';
import { createRouteStore, type RouteStore } from './modules/ingress/route-store.js';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function portFrom(value: string | undefined): number {
  const port = Number(value || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`INGRESS_PORT: not a port: ${value}`);
  return port;
}

/**
 * A table that cannot be read (edited by hand, a disk fault) must not keep every app down until someone notices: it
 * is kept aside for a look and the ingress starts empty; the control plane sends every route again when it connects.
 */
function loadOrSetAside(store: RouteStore, file: string, log: pino.Logger): IngressRoute[] {
  try {
    return store.load();
  } catch (err) {
    if (!(err instanceof IngressError)) throw err;
    const aside = `${file}.unreadable-${Date.now()}`;
    fs.renameSync(file, aside);
    log.error({ err: err.message, keptAt: aside }, 'the saved route table is unreadable; starting without it until the control plane sends the routes');
    return [];
  }
}

async function main(): Promise<void> {
  const env = process.env;
  const log = pino({ level: LEVELS.has(env.LOG_LEVEL ?? '') ? env.LOG_LEVEL! : 'info', base: { pid: process.pid, name: 'cynchro-ingress' } });
  // Everything it creates (socket, routes, pid file) is for this user only.
  process.umask(0o077);
  const files = ingressFiles(env.DATA_DIR || './data');
  ensureIngressDir(files);
  const token = ensureIngressToken(files);

  // Another ingress on the same DATA_DIR keeps serving; this one leaves. A socket nobody answers on is a dead one's.
  const other = await channelRequest(files.socket, token, 'GET', '/health', undefined, 2_000).catch(() => undefined);
  if (other) {
    log.warn({ pid: other.pid }, 'an ingress already serves this DATA_DIR; exiting');
    process.exit(0);
  }
  const store = createRouteStore(files.routes);
  const routes = loadOrSetAside(store, files.routes, log);
  const kind = env.INGRESS === 'caddy' ? 'caddy' : 'embedded';
  const host = env.INGRESS_HOST || defaultIngressHost(kind);
  const ingress = createEmbeddedIngress({
    port: portFrom(env.INGRESS_PORT),
    host,
    trustedProxies: trustedProxiesFor(kind),
    log,
  });
  await ingress.replaceAll(routes);
  await ingress.start();

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'ingress stopping');
    await channel.stop().catch(() => undefined);
    await ingress.stop();
    fs.rmSync(files.socket, { force: true });
    if (readIngressPid(files) === process.pid) fs.rmSync(files.pid, { force: true });
    log.info('ingress stopped');
    process.exit(0);
  };
  const channel = createIngressChannel({ ingress, store, token, socketPath: files.socket, log, host, kind, onShutdown: () => void stop('shutdown') });
  // Only once the port is ours: an ingress that lost a start race fails on the port and leaves the winner's socket.
  fs.rmSync(files.socket, { force: true });
  await channel.start();
  const pidTmp = `${files.pid}.${process.pid}.tmp`;
  fs.writeFileSync(pidTmp, `${process.pid}\n`, { mode: 0o600 });
  fs.renameSync(pidTmp, files.pid);

  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // Detached from the terminal that started the control plane: a hang-up there is not a reason to stop serving.
  process.on('SIGHUP', () => log.info('SIGHUP ignored'));
  log.info({ port: ingress.port, routes: routes.length, socket: files.socket, rssMb: Math.round(process.memoryUsage.rss() / 1e6) }, 'ingress serving');
}

main().catch((err: unknown) => {
  console.error(`cynchro ingress: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
