// Where the ingress process and the control plane meet on disk: one directory under DATA_DIR, private to the
// user running both (0700), holding the persisted routes, the control channel's socket and token, the pid and log.
import fs from 'node:fs';
import path from 'node:path';

export interface IngressFiles {
  dir: string;
  /** The last route table the ingress confirmed, loaded again when it starts. */
  routes: string;
  /** The control channel (HTTP over a Unix socket). */
  socket: string;
  /** The channel's bearer token (32 random bytes, hex). */
  token: string;
  /** The running ingress's pid (written by the ingress). */
  pid: string;
  /** The ingress's stdout and stderr when the control plane started it. */
  log: string;
}

export function ingressFiles(dataDir: string): IngressFiles {
  const dir = path.join(path.resolve(dataDir), 'ingress');
  return {
    dir,
    routes: path.join(dir, 'routes.json'),
    socket: path.join(dir, 'control.sock'),
    token: path.join(dir, 'token'),
    pid: path.join(dir, 'ingress.pid'),
    log: path.join(dir, 'ingress.log'),
  };
}

/** Creates the directory (0700), and narrows it to 0700 if it existed wider. */
export function ensureIngressDir(files: IngressFiles): void {
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(files.dir, 0o700);
}

/** Where the ingress listens unless INGRESS_HOST says: behind Caddy only Caddy may reach it. */
export function defaultIngressHost(ingress: 'embedded' | 'caddy'): string {
  return ingress === 'caddy' ? '127.0.0.1' : '0.0.0.0';
}

/** Peers whose X-Forwarded-* the ingress believes: Caddy on loopback in front of it, else nobody. */
export function trustedProxiesFor(ingress: 'embedded' | 'caddy'): string[] {
  return ingress === 'caddy' ? ['127.0.0.1', '::1'] : [];
}

/** The pid in the pid file, or undefined when there is none or it is not a number. */
export function readIngressPid(files: IngressFiles): number | undefined {
  try {
    const pid = Number(fs.readFileSync(files.pid, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
