// Runs a private Caddy for one test file: its admin API on a free loopback port, its certificates and autosaved
// config in a temp dir (XDG_DATA_HOME / XDG_CONFIG_HOME), so tests never touch a system Caddy or each other.
// Caddy runs as root here, so a config with Caddy's internal CA must set install_trust=false: stop() fails when
// Caddy reports having installed its root into the machine's trust store.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

export { freePort };

export interface CaddyProcess {
  adminUrl: string;
  httpPort: number;
  httpsPort: number;
  dir: string;
  /** stderr so far (Caddy logs there), for failure messages. */
  output(): string;
  /**
   * Config changes Caddy applied since it started (each one is a full reload): counted from its "autosaved config"
   * log line, so only with logLevel INFO or DEBUG. Answered once the log has been quiet for a moment: Caddy logs the
   * autosave after it answers the load, so a count taken at once can miss the last one (it did, in CI).
   */
  configLoads(): Promise<number>;
  /** The root certificate of Caddy's internal CA (exists once Caddy has used that CA). */
  rootCert(): Buffer;
  stop(): Promise<void>;
}


export function caddyBinary(): string {
  return process.env.CADDY_BIN ?? '/usr/bin/caddy';
}

async function waitForAdmin(adminUrl: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`${adminUrl}/config/`);
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`caddy admin API did not come up at ${adminUrl}:\n${output()}`);
}

export async function startCaddy(opts: { logLevel?: 'DEBUG' | 'INFO' | 'WARN' } = {}): Promise<CaddyProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-caddy-'));
  const [adminPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const configFile = path.join(dir, 'caddy.json');
  const config = {
    admin: { listen: `127.0.0.1:${adminPort}` },
    logging: { logs: { default: { level: opts.logLevel ?? 'WARN' } } },
  };
  fs.writeFileSync(configFile, JSON.stringify(config));

  let stderr = '';
  let partial = '';
  let loads = 0;
  let installedTrust = false;
  const child = spawn(caddyBinary(), ['run', '--config', configFile], {
    env: {
      ...process.env,
      HOME: dir,
      XDG_DATA_HOME: path.join(dir, 'data'),
      XDG_CONFIG_HOME: path.join(dir, 'config'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let lastOutputAt = Date.now();
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    lastOutputAt = Date.now();
    const tail = stderr.slice(-200) + chunk;
    stderr = (stderr + chunk).slice(-20_000);
    if (tail.includes('installing root certificate')) installedTrust = true;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.includes('"msg":"autosaved config')) loads++;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test process that crashes before afterAll would otherwise leave Caddy running, ports and all.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const output = () => stderr;

  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    // Caddy runs as root here: an internal CA without install_trust=false lands in the machine's trust store.
    if (installedTrust) {
      throw new Error('caddy installed its root CA into the system trust store: set apps.pki.certificate_authorities.local.install_trust=false');
    }
  };

  try {
    await waitForAdmin(adminUrl, child, output, 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  // The first autosave is Caddy's start with the file above; only later ones are loads through the admin API.
  const configLoads = async () => {
    const deadline = Date.now() + 3_000;
    while (Date.now() - lastOutputAt < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return Math.max(0, loads - 1);
  };
  const rootCert = () => fs.readFileSync(path.join(dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt'));
  return { adminUrl, httpPort, httpsPort, dir, output, configLoads, rootCert, stop };
}
