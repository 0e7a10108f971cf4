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
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export { freePort };

export async function startLiveServer(env: Record<string, string> = {}, opts: { dataDir?: string; startTimeoutMs?: number } = {}): Promise<LiveServer> {
  const freshPort = await freePort();
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-live-'));
  const fullEnv: Record<string, string> = {
    PORT: String(freshPort),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    INGRESS_PORT: String(await freePort()),
    ...env,
  };
  // node itself (not the tsx wrapper, which forks a child) so that a test's SIGKILL kills the server for real.
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(serverDir, 'src', 'main.ts')], { cwd: serverDir, env: { ...process.env, ...fullEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      throw new Error(`server did not start in ${Math.round(startTimeoutMs / 1000)} s (${lastError}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, port, dataDir, env: fullEnv, proc,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The live server's operator token, as its operator reads it (`cat $DATA_DIR/operator-token`), for POST /admin/claim. */
export function readOperatorToken(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
}
