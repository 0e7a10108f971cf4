// pnpm bench:memory — the control plane's resident memory (VmRSS of the server process alone; the ingress is its own
// process and is reported beside it) idle, then with 50 running apps on the real engine (small busybox httpd
// images), each figure against its goal. The server runs as production runs it: `node packages/server/dist/main.js`
// when the compiled build exists (`pnpm build`), else the sources through tsx (MEMORY_ENTRY=dist|tsx forces one).
// MEMORY_HEAPSNAPSHOT=1 also writes a heap snapshot at each point (--heapsnapshot-signal) and prints what holds the
// heap, by constructor: for analysis only, as writing a snapshot grows the process (figures after it read high).
// MEMORY_NODE_FLAGS replaces the node flags `pnpm start` gives the server (MEMORY_NODE_FLAGS=' ' for none), to compare.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LABELS, createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { freePort, reapIngressOf, stopIngress, liveIngressPid } from '../test/spawn-server.js';
import { CONTROL_PLANE_ENV, CONTROL_PLANE_NODE_FLAGS } from '../../../scripts/control-plane-process.mjs';
import { summarizeHeapSnapshot } from './heap-summary.js';

const APPS = Number(process.env.MEMORY_APPS ?? 50);
const GOAL_IDLE_MB = 100;
const GOAL_APPS_MB = 120;
// Not SIGUSR2: main.ts takes it to exit leaving the ingress running.
const SNAPSHOT_SIGNAL = 'SIGPWR';
const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function entry(): { kind: 'dist' | 'tsx'; argv: string[] } {
  const dist = path.join(serverDir, 'dist', 'main.js');
  const want = process.env.MEMORY_ENTRY ?? (fs.existsSync(dist) ? 'dist' : 'tsx');
  if (want === 'dist') return { kind: 'dist', argv: [dist] };
  return { kind: 'tsx', argv: ['--conditions=cynchro-source', '--import', 'tsx', path.join(serverDir, 'src', 'main.ts')] };
}

/** VmRSS of one process, in MB (from /proc, as `ps` and `top` see it). */
function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Anonymous (heaps, stacks, malloc) and file-backed (the node binary, native addons) parts of the RSS, in MB. */
function rssParts(pid: number): string {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  return `anon ${kb('RssAnon').toFixed(1)} + file ${kb('RssFile').toFixed(1)}`;
}

/** Waits until the RSS stops moving (±0.5 MB over 3 s, 30 s at most) and answers it. */
async function settledRss(pid: number): Promise<number> {
  const samples: number[] = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    samples.push(rssMb(pid));
    const last = samples.slice(-7);
    if (last.length === 7 && Math.max(...last) - Math.min(...last) <= 0.5) return last[last.length - 1]!;
    if (Date.now() > deadline) return samples[samples.length - 1]!;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function heapSnapshot(proc: ChildProcess, dir: string, label: string): Promise<void> {
  const before = new Set(fs.readdirSync(dir));
  proc.kill(SNAPSHOT_SIGNAL);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const full = path.join(dir, file);
    // Written in pieces: complete once it parses (V8 writes it as one JSON document).
    let snap: Parameters<typeof summarizeHeapSnapshot>[0];
    try {
      snap = JSON.parse(fs.readFileSync(full, 'utf8'));
    } catch {
      continue;
    }
    const dest = path.join(dir, `${label}.heapsnapshot`);
    fs.renameSync(full, dest);
    console.log(`\nheap snapshot (${label}): ${dest}`);
    console.log(summarizeHeapSnapshot(snap));
    return;
  }
}

const docker = createDockerodeDriver();
const labels = imageLabels();
const image = await buildBusybox(docker, labels, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","echo ok > /www/index.html; exec httpd -f -p 8080 -h /www"]`);

const { kind, argv } = entry();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-bench-memory-'));
const port = await freePort();
// As `pnpm start` runs it (scripts/control-plane-process.mjs), unless MEMORY_NODE_FLAGS says otherwise.
const env: NodeJS.ProcessEnv = {
  ...CONTROL_PLANE_ENV,
  ...process.env,
  PORT: String(port),
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  ROOT_DOMAIN: 'memory.test',
  INGRESS_PORT: String(await freePort()),
  INGRESS_PROCESS: 'separate',
  QUOTA_MAX_APPS: String(APPS + 5),
  QUOTA_MAX_CPU: String(APPS + 5),
  QUOTA_MAX_MEMORY_MB: String(Math.min(16384 * 4, 64 * (APPS + 5))),
  // A /24 per app network: the engine's default address pools hold only about 30 networks.
  APP_SUBNET_POOL: process.env.APP_SUBNET_POOL ?? '10.215.0.0/16',
};
const snapshots = process.env.MEMORY_HEAPSNAPSHOT === '1';
const flags = [...(process.env.MEMORY_NODE_FLAGS?.split(' ').filter(Boolean) ?? CONTROL_PLANE_NODE_FLAGS), ...(snapshots ? [`--heapsnapshot-signal=${SNAPSHOT_SIGNAL}`, `--diagnostic-dir=${dataDir}`] : [])];
reapIngressOf(dataDir);
const proc = spawn(process.execPath, [...flags, ...argv], { cwd: serverDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
proc.stdout!.on('data', (d: Buffer) => (out += d));
proc.stderr!.on('data', (d: Buffer) => (out += d));
const api = `http://127.0.0.1:${port}`;
const t0 = Date.now();
for (;;) {
  if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
  const ok = await fetch(`${api}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
  if (ok) break;
  if (Date.now() - t0 > 60_000) throw new Error(`server did not start:\n${out}`);
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`server: ${kind === 'dist' ? 'compiled (node packages/server/dist/main.js)' : 'sources through tsx (node --import tsx src/main.ts)'}${flags.length ? ` with ${flags.join(' ')}` : ''}${env.MALLOC_ARENA_MAX ? ` and MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}` : ''}, pid ${proc.pid}, up in ${Date.now() - t0} ms`);

const reg = (await (await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'memory@example.com', password: 'bench password' }) })).json()) as { accessToken: string; orgId: string };
const auth = { authorization: `Bearer ${reg.accessToken}` };
const json = { ...auth, 'content-type': 'application/json' };
// A signed-in user has looked around once (the first /openapi.json and /apps), as an idle server in use has.
await fetch(`${api}/apps`, { headers: auth });

const report: string[] = [];
const show = (label: string, mb: number, goal: number) => {
  const ingress = liveIngressPid(dataDir);
  const line = `${label.padEnd(22)}: ${mb.toFixed(1)} MB RSS [${rssParts(proc.pid!)}] (goal <= ${goal} MB: ${mb <= goal ? 'met' : 'NOT met'})${ingress ? `; the ingress process beside it: ${rssMb(ingress).toFixed(1)} MB` : ''}`;
  report.push(line);
  console.log(line);
};

try {
  show('idle', await settledRss(proc.pid!), GOAL_IDLE_MB);
  if (snapshots) await heapSnapshot(proc, dataDir, 'idle');

  const t1 = Date.now();
  const apps: string[] = [];
  const list = async () => ((await (await fetch(`${api}/apps`, { headers: auth })).json()) as { apps: { id: string; name: string; status: string }[] }).apps;
  // In batches of 10, each running before the next goes in: the figure is about holding 50 apps, not about how
  // many deploys a loaded machine can health-check at once.
  let poolExhausted = false;
  for (let batch = 0; batch < APPS && !poolExhausted; batch += 10) {
    for (let i = batch; i < Math.min(APPS, batch + 10); i++) {
      const r = await fetch(`${api}/deploy`, { method: 'POST', headers: json, body: JSON.stringify({ name: `mem-${i}`, image, port: 8080, memory: 64 }) });
      if (r.status !== 202) throw new Error(`deploy ${i}: ${r.status} ${await r.text()}`);
      apps.push(((await r.json()) as { appId: string }).appId);
    }
    for (;;) {
      const all = await list();
      const failed = all.filter((a) => a.status === 'failed');
      if (failed.length) {
        const errors = await Promise.all(failed.map(async (f) => ((await (await fetch(`${api}/apps/${f.id}`, { headers: auth })).json()) as { deployments: { error: string | null }[] }).deployments[0]?.error ?? ''));
        // Each app has its own network (CONTRACT.md), and Docker's default address pools hold about 30 bridge
        // networks, shared with whatever else runs on the engine: the figure is then for the apps that fit.
        if (!errors.every((e) => e.includes('non-overlapping IPv4 address pool'))) throw new Error(`${failed.length} apps failed: ${errors[0]}`);
        for (const f of failed) {
          await fetch(`${api}/apps/${f.id}`, { method: 'DELETE', headers: auth });
          apps.splice(apps.indexOf(f.id), 1);
        }
        poolExhausted = true;
      }
      if (all.filter((a) => a.status === 'running').length === apps.length) break;
      if (Date.now() - t1 > 20 * 60_000) throw new Error(`not all ${apps.length} apps running after 20 min`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  console.log(`${apps.length} apps running (real engine, busybox httpd) in ${((Date.now() - t1) / 1000).toFixed(0)} s${poolExhausted ? `: the engine's default address pools had no network left for more (one per app); the goal is for ${APPS}` : ''}`);
  show(`with ${apps.length} apps`, await settledRss(proc.pid!), GOAL_APPS_MB);
  if (snapshots) await heapSnapshot(proc, dataDir, `apps-${apps.length}`);

  for (const id of apps) await fetch(`${api}/apps/${id}`, { method: 'DELETE', headers: auth });
} finally {
  const exited = proc.exitCode === null && proc.signalCode === null ? new Promise((r) => proc.once('exit', r)) : Promise.resolve();
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
  await stopIngress(dataDir);
  await docker.removeByLabels({ [LABELS.org]: reg.orgId });
  await docker.removeByLabels(labels);
  await docker.close();
  if (!snapshots) fs.rmSync(dataDir, { recursive: true, force: true });
}
console.log(`\n${report.join('\n')}`);
