// pnpm bench:deploy — (1) time from POST /deploy to the first 200 through the ingress, against `docker run` +
// polling the published port (and, for reference, `docker network create` + `docker run --network`: each app gets
// a private network), same local image, alternating rounds in one run, with where each deploy's time went (its
// deployment log's timestamps, median per phase); (2) live log latency: engine timestamp of a line printed in the
// container → its arrival at a WebSocket client, p50/p99.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import WebSocket from 'ws';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { loadConfig } from '../src/config.js';
import { createRuntime } from '../src/runtime.js';
import { freePort, get, run } from './bench-helpers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LOG_LINES = Number(process.env.BENCH_LOG_LINES ?? 400);


async function until200(port: number, host: string): Promise<void> {
  for (;;) {
    try {
      if ((await get(port, host, '/', { timeoutMs: 1000 })).status === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

const docker = createDockerodeDriver();
// No org label: an image labelled with an org runs only for that org; the run label finds it for cleanup.
const labels = imageLabels();
const image = await buildBusybox(docker, labels, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","echo ok > /www/index.html; exec httpd -f -p 8080 -h /www"]`);
const ticker = await buildBusybox(docker, labels, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","httpd -p 8080 -h /www; while true; do echo tick; usleep 10000; done"]`);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-bench-deploy-'));
// The ingress as production runs it (its own process) unless INGRESS_PROCESS=inprocess says otherwise.
const ingressProcess = process.env.INGRESS_PROCESS ?? 'separate';
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ROOT_DOMAIN: 'bench.test', INGRESS_PORT: String(await freePort()), INGRESS_PROCESS: ingressProcess });
const rt = await createRuntime(config, { log: pino({ level: 'warn' }), docker });
await rt.start();
await rt.app.listen({ port: 0, host: '127.0.0.1' });
const api = `http://127.0.0.1:${(rt.app.server.address() as AddressInfo).port}`;
const reg = (await (await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) })).json()) as { accessToken: string; orgId: string };
// When each app's switch was recorded: right after the ingress took (and, in its own process, persisted) the routes.
const switchedAt = new Map<string, number>();
rt.deps.events.on('app-switched', (e) => switchedAt.set(e.appId, Date.now()));
const auth = { authorization: `Bearer ${reg.accessToken}`, 'content-type': 'application/json' };

/**
 * The baseline. With `privateNetwork`, also what the platform has to do beyond it for a new app (CONTRACT.md: each
 * app gets a private network): create a network, run on it. For reference; the goal is against the plain run.
 */
async function viaDockerRun(i: number, network: 'default' | 'private' | 'precreated' = 'default'): Promise<number> {
  const runLabel = `cloud.cynchro.test-run=${labels['cloud.cynchro.test-run']}`;
  const name = `bench-run-${process.pid}-${i}${network === 'default' ? '' : `-${network}`}`;
  // 'precreated': the network exists before the clock starts, as a pool of ready networks would have it (which the
  // labels contract rules out: Docker cannot relabel a network); what is left is starting on a user network.
  if (network === 'precreated') await run('docker', ['network', 'create', '--label', runLabel, name]);
  const t0 = performance.now();
  if (network === 'private') await run('docker', ['network', 'create', '--label', runLabel, name]);
  const id = await run('docker', ['run', '-d', '--label', runLabel, '--name', name, ...(network === 'default' ? [] : ['--network', name]), '-p', '127.0.0.1::8080', image]);
  const port = Number((await run('docker', ['port', id, '8080/tcp'])).split('\n')[0]!.split(':').pop());
  await until200(port, 'localhost');
  const ms = performance.now() - t0;
  await run('docker', ['rm', '-f', id]);
  if (network !== 'default') await run('docker', ['network', 'rm', name]);
  return ms;
}

/**
 * Where the time of one deploy went, in ms, from the deployment's own record: its row's timestamps and its log's
 * (each line is stamped when written). Each phase ends at a mark; a mark the log lacks leaves its phase out.
 */
const PHASES: { name: string; mark: RegExp | 'queued' | 'claimed' | 'served' }[] = [
  { name: 'request → queued', mark: 'queued' },
  { name: 'queued → claimed by the worker', mark: 'claimed' },
  { name: 'image check (+ env)', mark: /^materialised env/ },
  { name: 'network (what is not overlapped)', mark: /^starting / },
  { name: 'container create + start', mark: / started \(container / },
  { name: 'health check first success', mark: / is healthy$/ },
  // The routes serve as soon as the ingress applied them, which can be before the switch is recorded.
  { name: 'route set → 200 through the ingress', mark: 'served' },
];
const phases = new Map<string, number[]>(PHASES.map((p) => [p.name, []]));
/** Healthy → the switch recorded (the routes applied, persisted by an ingress process, and the app's release set). */
const recorded: number[] = [];

async function breakdown(appId: string, t0: number, t200: number): Promise<void> {
  const d = (await (await fetch(`${api}/apps/${appId}`, { headers: auth })).json()) as { deployments: { id: string; createdAt: string; startedAt: string }[] };
  const dep = d.deployments[0]!;
  const log = (await (await fetch(`${api}/apps/${appId}/deployments/${dep.id}/logs`, { headers: auth })).json()) as { lines: { at: string; text: string }[] };
  let prev = t0;
  for (const p of PHASES) {
    const at =
      p.mark === 'queued' ? Date.parse(dep.createdAt)
      : p.mark === 'claimed' ? Date.parse(dep.startedAt)
      : p.mark === 'served' ? t200
      : (() => {
          const line = log.lines.find((l) => (p.mark as RegExp).test(l.text));
          return line ? Date.parse(line.at) : undefined;
        })();
    if (at === undefined) continue;
    phases.get(p.name)!.push(at - prev);
    prev = at;
  }
  const healthy = log.lines.find((l) => / is healthy$/.test(l.text));
  const switched = switchedAt.get(appId);
  if (healthy && switched) recorded.push(switched - Date.parse(healthy.at));
  if (process.env.BENCH_TRACE) console.log('  ' + log.lines.map((l) => `${Date.parse(l.at) - t0}ms ${l.text.slice(0, 40)}`).join(' | '));
}

async function viaCynchro(i: number): Promise<number> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const r = (await (await fetch(`${api}/deploy`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `bench-${i}`, image, port: 8080 }) })).json()) as { appId: string; domain: string };
  await until200(config.ingressPort, r.domain);
  const ms = performance.now() - t0;
  await rt.services.worker.idle();
  if (i >= 0) await breakdown(r.appId, wall0, wall0 + ms);
  await fetch(`${api}/apps/${r.appId}`, { method: 'DELETE', headers: { authorization: auth.authorization } });
  return ms;
}

await viaDockerRun(-1); // warm-up every path
await viaDockerRun(-1, 'private');
await viaDockerRun(-1, 'precreated');
await viaCynchro(-1);
const base: number[] = [];
const withNet: number[] = [];
const onNet: number[] = [];
const ours: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  base.push(await viaDockerRun(i));
  withNet.push(await viaDockerRun(i, 'private'));
  onNet.push(await viaDockerRun(i, 'precreated'));
  ours.push(await viaCynchro(i));
}
const list = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  (${xs.map((x) => x.toFixed(0)).join(', ')})`;
console.log(`ingress: ${ingressProcess === 'separate' ? 'its own process (INGRESS_PROCESS=separate)' : 'inside the control plane (INGRESS_PROCESS=inprocess)'}`);
console.log(`docker run + poll                    : ${list(base)}`);
console.log(`docker network create + run + poll   : ${list(withNet)}`);
console.log(`docker run on an existing network    : ${list(onNet)}  (${(median(onNet) / median(base)).toFixed(2)}× the plain run: Docker's own cost of a user network)`);
console.log(`POST /deploy → 200                   : ${list(ours)}`);
console.log('where it went (median ms per phase over the rounds; medians need not add up to the total):');
const row = (name: string, xs: number[]) => console.log(`  ${name.padEnd(36)} ${median(xs).toFixed(0).padStart(6)}  (${xs.map((x) => x.toFixed(0)).join(', ')})`);
for (const [name, xs] of phases) if (xs.length) row(name, xs);
if (recorded.length) row('(healthy → switch recorded)', recorded);
// Round by round, so a machine whose load drifts compares neighbours: what the platform adds to docker's own work.
row('(per round: cynchro − network + run)', ours.map((x, i) => x - withNet[i]!));
row('(per round: cynchro − docker run)', ours.map((x, i) => x - base[i]!));
console.log(`for reference, cynchro / (docker network create + run): ${(median(ours) / median(withNet)).toFixed(2)}`);
console.log(`deploy ratio (cynchro / docker run): ${(median(ours) / median(base)).toFixed(2)} (goal <= 1.1)`);

// Log stream latency.
const t = (await (await fetch(`${api}/deploy`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'bench-ticker', image: ticker, port: 8080 }) })).json()) as { appId: string };
await rt.services.worker.idle();
const ws = new WebSocket(`${api.replace('http', 'ws')}/apps/${t.appId}/logs/stream?token=${reg.accessToken}`);
const lat: number[] = [];
await new Promise<void>((resolve) => {
  ws.on('message', (m) => {
    const msg = JSON.parse(String(m)) as { type: string; timestamp?: string };
    if (msg.type !== 'log') return;
    // The engine's timestamp (ns precision) is when the container wrote the line.
    const ts = msg.timestamp!;
    const ms = Date.parse(ts.slice(0, 23) + 'Z') + Number('0.' + (ts.slice(23, -1) || '0')) ;
    lat.push(Date.now() - ms);
    if (lat.length >= LOG_LINES) resolve();
  });
});
ws.close();
const steady = lat.slice(20); // the first lines may be replays from before the socket opened
console.log(`log stream latency over ${steady.length} lines: p50 ${pct(steady, 50).toFixed(1)} ms, p99 ${pct(steady, 99).toFixed(1)} ms (goals 50 / 250)`);

await fetch(`${api}/apps/${t.appId}`, { method: 'DELETE', headers: { authorization: auth.authorization } });
await rt.close();
await docker.removeByLabels(labels);
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
