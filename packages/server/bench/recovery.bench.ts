// pnpm bench:recovery — how long an app is down after a fault of its container, measured through the embedded
// ingress: from the fault to the first 200 (polled every 20 ms), median of BENCH_ROUNDS (5) rounds per fault:
//   docker restart  — POST /containers/{id}/restart (the engine stops and starts it; its published port changes)
//   crash           — the app's process exits with code 3 by itself; the engine's restart policy starts it again
//   docker kill     — POST /containers/{id}/kill (SIGKILL; the engine leaves it stopped, the reconciler starts it)
//   docker rm -f    — DELETE /containers/{id}?force=1 (the reconciler recreates it from the current release)
// The faults are the Engine API calls the docker CLI makes, sent straight to the engine's socket.
// The limit is what the engine itself needs: the median time a fresh `docker run` of the same image takes until its
// port answers 200, measured in the same session. Goals: restart and crash ≤ limit + 1 s; kill and rm -f ≤ limit + 3 s.
//
// No engine restart here: restarting dockerd disturbs every container on the machine and has its own test
// (test/engine-restart.docker.test.ts); this bench only faults its own app's container.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, exec } from '@cynchro/docker-driver/testing';
import { loadConfig } from '../src/config.js';
import { createRuntime } from '../src/runtime.js';
import { freePort, get, run } from './bench-helpers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const POLL_MS = 20;
/** The engine's restart back-off starts over once a container has run this long (10 s in dockerd), so crash rounds wait for it. */
const BACKOFF_RESET_MS = 11_000;

type Fault = 'docker restart' | 'crash' | 'docker kill' | 'docker rm -f';
const FAULTS: { fault: Fault; slackMs: number }[] = [
  { fault: 'docker restart', slackMs: 1000 },
  { fault: 'crash', slackMs: 1000 },
  { fault: 'docker kill', slackMs: 3000 },
  { fault: 'docker rm -f', slackMs: 3000 },
];

const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock';

function engine(method: string, p: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: DOCKER_SOCKET, method, path: `/v1.41${p}` }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => ((res.statusCode ?? 0) >= 400 ? reject(new Error(`${method} ${p}: ${res.statusCode} ${text}`)) : resolve()));
    });
    req.on('error', reject);
    req.end();
  });
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls every 20 ms until `host` answers 200 on `port`; bounded. */
async function until200(port: number, host: string, timeoutMs = 120_000): Promise<number> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    try {
      if ((await get(port, host, '/', { timeoutMs: 1000 })).status === 200) return performance.now();
    } catch {
      /* not yet */
    }
    if (performance.now() > end) throw new Error(`${host} did not answer 200 within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 10): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const docker = createDockerodeDriver();
// This run's own label on what it creates outside the platform: `managed` not `true` (no control plane's orphan sweep
// takes it) and no org label (an image labelled for an org runs only for that org).
const labels = { [LABELS.managed]: 'driver-test', 'cloud.cynchro.test-run': `recovery-${process.pid}-${Date.now()}` };
// httpd in the background; the shell waits for a crash trigger (a file in the container's own layer, removed at
// every start) and then exits with 3, as a crashing app would.
const image = await buildBusybox(
  docker,
  labels,
  `RUN ["/bin/mkdir","-p","/www","/tmp"]\nCMD ["sh","-c","rm -f /tmp/crash; echo ok > /www/index.html; httpd -p 8080 -h /www; while [ ! -f /tmp/crash ]; do usleep 20000; done; echo crashing; exit 3"]`,
);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-bench-recovery-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ROOT_DOMAIN: 'bench.test', INGRESS_PORT: String(await freePort()) });
const rt = await createRuntime(config, { log: pino({ level: 'warn' }), docker, worker: { pollMs: 50 } });
await rt.start();
await rt.app.listen({ port: 0, host: '127.0.0.1' });
const api = `http://127.0.0.1:${(rt.app.server.address() as AddressInfo).port}`;
const reg = (await (await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `recovery-${process.pid}@example.com`, password: 'bench password' }) })).json()) as { accessToken: string; orgId: string };
if (!reg.accessToken) throw new Error(`register failed: ${JSON.stringify(reg)}`);
const auth = { authorization: `Bearer ${reg.accessToken}`, 'content-type': 'application/json' };

async function cleanup(): Promise<void> {
  await rt.close().catch(() => {});
  await docker.removeByLabels({ [LABELS.org]: reg.orgId }, { volumes: true, images: true }).catch(() => {});
  await docker.removeByLabels(labels).catch(() => {});
  fs.rmSync(dataDir, { recursive: true, force: true });
}

try {
  // The limit: a fresh `docker run` of the same image until its port answers (as bench:deploy measures it).
  async function viaDockerRun(i: number): Promise<number> {
    const t0 = performance.now();
    const id = await run('docker', ['run', '-d', '--init', '--label', `cloud.cynchro.test-run=${labels['cloud.cynchro.test-run']}`, '--name', `bench-recovery-${process.pid}-${i}`, '-p', '127.0.0.1::8080', image]);
    const port = Number((await run('docker', ['port', id, '8080/tcp'])).split('\n')[0]!.split(':').pop());
    const at = await until200(port, 'localhost');
    await run('docker', ['rm', '-f', id]);
    return at - t0;
  }
  await viaDockerRun(-1); // warm-up
  const base: number[] = [];
  for (let i = 0; i < ROUNDS; i++) base.push(await viaDockerRun(i));
  const limit = median(base);
  console.log(`docker run → 200: median ${limit.toFixed(0)} ms (${base.map((x) => x.toFixed(0)).join(', ')})`);

  const d = (await (await fetch(`${api}/deploy`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'recovery', image, port: 8080 }) })).json()) as { appId: string; domain: string };
  await rt.services.worker.idle(120_000);
  const first = ((await (await fetch(`${api}/apps/${d.appId}`, { headers: auth })).json()) as { deployments: { status: string; error: string | null }[] }).deployments[0];
  if (first?.status !== 'succeeded') throw new Error(`the deployment did not succeed: ${JSON.stringify(first)}`);
  await until200(config.ingressPort, d.domain);
  const appStatus = async () => ((await (await fetch(`${api}/apps/${d.appId}`, { headers: auth })).json()) as { app: { status: string } }).app.status;
  const theContainer = async () => {
    const cs = await docker.listContainers({ [LABELS.app]: d.appId }, { all: true });
    if (cs.length !== 1) throw new Error(`expected one container, found ${cs.length}`);
    return (await docker.inspectContainer(cs[0]!.id))!;
  };

  // When the engine (re)started one of the app's containers, as seen on its event stream: splits each sample into the
  // engine's part (fault → started) and the platform's (started → first 200 through the ingress).
  const starts: number[] = [];
  const following = new AbortController();
  void (async () => {
    for await (const e of docker.events({ since: Date.now(), signal: following.signal })) {
      if (e.action === 'start' && e.labels[LABELS.app] === d.appId) starts.push(performance.now());
    }
  })().catch(() => {});

  const rows: { fault: Fault; median: number; samples: number[]; slackMs: number; engine: number[]; platform: number[] }[] = [];
  for (const { fault, slackMs } of FAULTS) {
    const samples: number[] = [];
    const engineMs: number[] = [];
    const platformMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Each round starts from a settled app: running, served, nothing left for the reconciler to do.
      await rt.services.reconciler.pass();
      await until('the app to be running', async () => (await appStatus()) === 'running', 60_000, 50);
      await until200(config.ingressPort, d.domain);
      const c = await until('one running container', async () => {
        const x = await theContainer();
        return x.running && x;
      });
      if (fault === 'crash') {
        const upFor = Date.now() - Date.parse(c.startedAt!);
        if (upFor < BACKOFF_RESET_MS) await sleep(BACKOFF_RESET_MS - upFor);
      }
      let t0 = performance.now();
      if (fault === 'docker restart') await engine('POST', `/containers/${c.id}/restart?t=10`);
      else if (fault === 'docker kill') await engine('POST', `/containers/${c.id}/kill`);
      else if (fault === 'docker rm -f') await engine('DELETE', `/containers/${c.id}?force=1`);
      else {
        // The trigger goes in through `docker exec` (itself a few hundred ms on a busy engine); the crash is when it
        // lands: the app exits within 20 ms of it.
        await exec(c.id, ['touch', '/tmp/crash']);
        t0 = performance.now();
      }
      // Struck once the container is gone, down, or already started again; only then does a 200 count.
      await until(`${fault} to take the container down`, async () => {
        const now = await docker.inspectContainer(c.id);
        return !now || !now.running || !!now.restarting || now.startedAt !== c.startedAt;
      }, 15_000, 5);
      const at = await until200(config.ingressPort, d.domain);
      samples.push(at - t0);
      const started = starts.find((x) => x > t0 && x <= at);
      if (started !== undefined) {
        engineMs.push(started - t0);
        platformMs.push(at - started);
      }
    }
    rows.push({ fault, median: median(samples), samples, slackMs, engine: engineMs, platform: platformMs });
    console.log(`${fault.padEnd(15)}: median ${median(samples).toFixed(0)} ms (${samples.map((x) => x.toFixed(0)).join(', ')})`);
  }

  console.log('');
  console.log('| fault | median ms | limit ms | difference ms | goal | met |');
  console.log('| --- | ---: | ---: | ---: | --- | --- |');
  for (const r of rows) {
    const diff = r.median - limit;
    console.log(`| ${r.fault} | ${r.median.toFixed(0)} | ${limit.toFixed(0)} | ${diff >= 0 ? '+' : ''}${diff.toFixed(0)} | ≤ limit + ${r.slackMs} | ${diff <= r.slackMs ? 'met' : 'NOT met'} |`);
  }
  console.log('');
  console.log('| fault | fault → container started (median ms) | started → first 200 (median ms) |');
  console.log('| --- | ---: | ---: |');
  const med = (xs: number[]) => (xs.length ? median(xs).toFixed(0) : 'n/a');
  for (const r of rows) console.log(`| ${r.fault} | ${med(r.engine)} | ${med(r.platform)} |`);
  following.abort();

  await fetch(`${api}/apps/${d.appId}`, { method: 'DELETE', headers: { authorization: auth.authorization } });
} finally {
  await cleanup();
}
process.exit(0);
