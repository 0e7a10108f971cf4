// Starts the real server as its own process (`tsx src/main.ts`), as a user would, for SDK/CLI/example tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface LiveServer {
  url: string;
  port: number;
  dataDir: string;
  env: Record<string, string>;
  proc: ChildProcess;
  output(): string;
  /** The ingress process's pid (from its pid file), while one runs for this DATA_DIR. */
  ingressPid(): number | undefined;
  /**
   * Signals the server and waits for it to exit; then ends its ingress process too, unless `keepIngress` (a
   * control-plane restart that the ingress must outlive). SIGTERM makes the server stop the ingress itself.
   */
  stop(signal?: NodeJS.Signals, opts?: { keepIngress?: boolean }): Promise<void>;
}

/**
 * Ingress processes outlive their servers by design, so the end of this test process must end them: a reaper
 * (started once, detached) watches this process and, once it is gone, ends the ingress of every DATA_DIR listed in
 * its file. An 'exit' hook would not do: a test runner may end its workers with a signal.
 */
const REAPER = `
const fs = require('node:fs'), path = require('node:path');
const [parent, list] = process.argv.slice(1);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const ingressOf = (dir) => {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'ingress', 'ingress.pid'), 'utf8'));
    return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').includes('ingress-main') ? pid : 0;
  } catch { return 0; }
};
const timer = setInterval(() => {
  if (alive(Number(parent))) return;
  clearInterval(timer);
  const pids = fs.readFileSync(list, 'utf8').split('\\n').filter(Boolean).map(ingressOf).filter(Boolean);
  for (const p of pids) try { process.kill(p, 'SIGTERM'); } catch {}
  setTimeout(() => {
    for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch {}
    fs.rmSync(path.dirname(list), { recursive: true, force: true });
  }, 3000);
}, 500);
`;
let reaperList: string | undefined;
export function reapIngressOf(dataDir: string): void {
  if (!reaperList) {
    reaperList = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-reaper-')), 'data-dirs');
    fs.writeFileSync(reaperList, '');
    spawn(process.execPath, ['-e', REAPER, String(process.pid), reaperList], { detached: true, stdio: 'ignore' }).unref();
  }
  fs.appendFileSync(reaperList, `${dataDir}\n`);
}

/** The pid in DATA_DIR/ingress/ingress.pid if that process is alive and is an ingress (not a reused pid). */
export function liveIngressPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'ingress', 'ingress.pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ingress-main') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Ends the ingress process of `dataDir` (SIGTERM, then SIGKILL after 5 s) and waits until it is gone. */
export async function stopIngress(dataDir: string): Promise<void> {
  const pid = liveIngressPid(dataDir);
  if (!pid) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (alive()) {
    if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export { freePort };

/** `compiled`: plain `node dist/main.js`, as `pnpm start` runs it (the caller has built it: scripts/build.mjs). */
export async function startLiveServer(env: Record<string, string> = {}, opts: { dataDir?: string; startTimeoutMs?: number; compiled?: boolean } = {}): Promise<LiveServer> {
  const freshPort = await freePort();
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-live-'));
  const fullEnv: Record<string, string> = {
    PORT: String(freshPort),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    INGRESS_PORT: String(await freePort()),
    // The ingress as its own process, as `pnpm start` runs it.
    INGRESS_PROCESS: 'separate',
    ...env,
  };
  reapIngressOf(dataDir);
  // node itself (not the tsx wrapper, which forks a child) so that a test's SIGKILL kills the server for real;
  // `--conditions=cynchro-source` makes `@cynchro/*` resolve to src (without it they resolve to the compiled dist).
  const argv = opts.compiled ? [path.join(serverDir, 'dist', 'main.js')] : ['--conditions=cynchro-source', '--import', 'tsx', path.join(serverDir, 'src', 'main.ts')];
  const proc = spawn(process.execPath, argv, { cwd: serverDir, env: { ...process.env, ...fullEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // A restart passes its predecessor's env, ports included.
  const port = Number(fullEnv.PORT);
  const url = `http://127.0.0.1:${port}`;
  // Generous for a loaded machine (a cold tsx start of the whole server can take tens of seconds there).
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + startTimeoutMs;
  let lastError = '';
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
    try {
      // A short deadline: a pooled keep-alive socket to a killed predecessor on this port must not stall the probe.
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
      lastError = `HTTP ${r.status}`;
    } catch (e) {
      lastError = String((e as Error).cause ?? e); // not up yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      await stopIngress(dataDir);
      throw new Error(`server did not start in ${Math.round(startTimeoutMs / 1000)} s (${lastError}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, port, dataDir, env: fullEnv, proc,
    output: () => out,
    ingressPid: () => liveIngressPid(dataDir),
    async stop(signal: NodeJS.Signals = 'SIGTERM', stopOpts: { keepIngress?: boolean } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      if (!stopOpts.keepIngress) await stopIngress(dataDir);
    },
  };
}

/** The live server's operator token, as its operator reads it (`cat $DATA_DIR/operator-token`), for POST /admin/claim. */
export function readOperatorToken(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
}
