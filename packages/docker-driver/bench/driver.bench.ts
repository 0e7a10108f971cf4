// `pnpm bench:driver`: time from "create container" to "port answers" through the driver, against the same
// image started with `docker run -d -p 127.0.0.1::8080` plus polling, in the same run, rounds alternating.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerodeDriver, LABELS } from '../src/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const POLL_MS = 20;
const SERVE = 'mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} ${args.join(' ')}: ${err.trim()}`))));
  });
}

function get(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))] as number;

async function main(): Promise<void> {
  // Not managed=true: a control plane reconciling on this engine would remove containers it does not know.
  const labels = { [LABELS.managed]: 'driver-bench', [LABELS.org]: `bench-${randomBytes(6).toString('hex')}` };
  const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const driver = createDockerodeDriver();
  const dir = mkdtempSync(join(tmpdir(), 'cynchro-driver-bench-'));
  try {
    copyFileSync('/bin/busybox', join(dir, 'busybox'));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nENV PATH=/bin\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n');
    const image = `cynchro-bench-bb:${randomBytes(4).toString('hex')}`;
    await driver.buildFromDirectory({ dir, tag: image, labels });

    const viaDriver = async (secretFiles?: Record<string, string>) => {
      const t0 = performance.now();
      const c = await driver.runContainer({ name: `cyn-bench-${randomBytes(4).toString('hex')}`, image, command: ['sh', '-c', SERVE], port: 8080, labels, ...(secretFiles ? { secretFiles } : {}) });
      await driver.waitHealthy(c.id, { path: '/', timeoutMs: 30_000 });
      const ms = performance.now() - t0;
      await driver.removeContainer(c.id);
      return ms;
    };
    // The same container settings the driver applies, so only the path to the engine differs.
    const viaCli = async () => {
      const t0 = performance.now();
      const id = await run('docker', [
        'run', '-d', ...labelArgs, '--restart', 'unless-stopped', '--security-opt', 'no-new-privileges', '--pids-limit', '512',
        '-p', '127.0.0.1::8080', image, 'sh', '-c', SERVE,
      ]);
      const port = Number((await run('docker', ['port', id, '8080/tcp'])).split('\n')[0]?.split(':').pop());
      const deadline = Date.now() + 30_000;
      while (!(await get(port))) {
        if (Date.now() > deadline) throw new Error('docker run container never answered');
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      const ms = performance.now() - t0;
      await run('docker', ['rm', '-f', id]);
      return ms;
    };

    // One warm-up each, not counted (page cache, first docker-proxy spawn).
    await viaDriver();
    await viaCli();
    const d: number[] = [];
    const c: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate who goes first so drift in the machine's load hits both sides alike.
      if (i % 2 === 0) {
        d.push(await viaDriver());
        c.push(await viaCli());
      } else {
        c.push(await viaCli());
        d.push(await viaDriver());
      }
      s.push(await viaDriver({ TOKEN: randomBytes(16).toString('hex') }));
    }
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p90 ${p90(xs).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)} ms`;
    const ratio = median(d) / median(c);
    console.log(`create → port answers (HTTP GET / = 200), ${ROUNDS} rounds, alternating, poll ${POLL_MS} ms`);
    console.log(`  driver (runContainer + waitHealthy)      ${fmt(d)}`);
    console.log(`  docker run -d -p 127.0.0.1::8080 + poll  ${fmt(c)}`);
    console.log(`  driver with one secret file (extra)      ${fmt(s)}`);
    console.log(`  ratio driver/docker-run (median)         ${ratio.toFixed(3)}  (goal ≤ 1.1: ${ratio <= 1.1 ? 'met' : 'NOT met'})`);
    console.log(JSON.stringify({ rounds: ROUNDS, driverMs: d.map(Math.round), dockerRunMs: c.map(Math.round), withSecretMs: s.map(Math.round), ratio: Number(ratio.toFixed(3)) }));
  } finally {
    await driver.removeByLabels(labels).catch((e: unknown) => console.error('cleanup:', e));
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
