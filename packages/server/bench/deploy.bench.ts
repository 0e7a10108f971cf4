// pnpm bench:deploy — (1) time from POST /deploy to the first 200 through the embedded ingress, against
// `docker run` + polling the published port, same local image, alternating rounds in one run; (2) live log
// latency: engine timestamp of a line printed in the container → its arrival at a WebSocket client, p50/p99.
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
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ROOT_DOMAIN: 'bench.test', INGRESS_PORT: String(await freePort()) });
const rt = await createRuntime(config, { log: pino({ level: 'warn' }), docker, worker: { pollMs: 50 } });
await rt.start();
await rt.app.listen({ port: 0, host: '127.0.0.1' });
const api = `http://127.0.0.1:${(rt.app.server.address() as AddressInfo).port}`;
const reg = (await (await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) })).json()) as { accessToken: string; orgId: string };
const auth = { authorization: `Bearer ${reg.accessToken}`, 'content-type': 'application/json' };

async function viaDockerRun(i: number): Promise<number> {
  const t0 = performance.now();
  const id = await run('docker', ['run', '-d', '--label', `cloud.cynchro.test-run=${labels['cloud.cynchro.test-run']}`, '--name', `bench-run-${process.pid}-${i}`, '-p', '127.0.0.1::8080', image]);
  const port = Number((await run('docker', ['port', id, '8080/tcp'])).split('\n')[0]!.split(':').pop());
  await until200(port, 'localhost');
  const ms = performance.now() - t0;
  await run('docker', ['rm', '-f', id]);
  return ms;
}

async function viaCynchro(i: number): Promise<number> {
  const t0 = performance.now();
  const r = (await (await fetch(`${api}/deploy`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `bench-${i}`, image, port: 8080 }) })).json()) as { appId: string; domain: string };
  await until200(config.ingressPort, r.domain);
  const ms = performance.now() - t0;
  await rt.services.worker.idle();
  if (process.env.BENCH_TRACE) {
    const d = (await (await fetch(`${api}/apps/${r.appId}`, { headers: auth })).json()) as { deployments: { id: string; createdAt: string; startedAt: string }[] };
    const dep = d.deployments[0]!;
    const log = (await (await fetch(`${api}/apps/${r.appId}/deployments/${dep.id}/logs`, { headers: auth })).json()) as { lines: { at: string; text: string }[] };
    const t = Date.parse(dep.createdAt);
    console.log(`  queued→started ${Date.parse(dep.startedAt) - t} ms; ` + log.lines.map((l) => `${Date.parse(l.at) - t}ms ${l.text.slice(0, 40)}`).join(' | '));
  }
  await fetch(`${api}/apps/${r.appId}`, { method: 'DELETE', headers: { authorization: auth.authorization } });
  return ms;
}

await viaDockerRun(-1); // warm-up both paths
await viaCynchro(-1);
const base: number[] = [];
const ours: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  base.push(await viaDockerRun(i));
  ours.push(await viaCynchro(i));
}
console.log(`docker run + poll   : median ${median(base).toFixed(0)} ms  (${base.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`POST /deploy → 200  : median ${median(ours).toFixed(0)} ms  (${ours.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`deploy ratio (cynchro / docker run): ${(median(ours) / median(base)).toFixed(2)} (goal <= 1.25)`);

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
