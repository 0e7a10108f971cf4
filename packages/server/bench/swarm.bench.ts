// pnpm bench:swarm — on a real three-node cluster on this machine (three dockerd in their own network namespaces,
// a registry on the test bridge): (1) POST /deploy → first 200 through the ingress on RUNTIME=swarm, against
// `docker service create` + polling its task until it answers (the limit: what Swarm itself takes) and against the
// single-engine runtime on the host's engine, alternating rounds; (2) failover: a worker's engine killed while
// an app with three replicas is polled, time until every replica is back on the live nodes and how many requests
// failed meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createDockerodeDriver, createSwarmDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startSwarmCluster } from '@cynchro/docker-driver/testing';
import { loadConfig } from '../src/config.js';
import { createRuntime, type Runtime } from '../src/runtime.js';
import { freePort, get } from './bench-helpers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WEB = `RUN ["/bin/mkdir","-p","/www"]\nSTOPSIGNAL SIGKILL\nCMD ["sh","-c","echo ok > /www/index.html; exec httpd -f -p 8080 -h /www"]`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const list = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  (${xs.map((x) => x.toFixed(0)).join(', ')})`;

async function until200(port: number, host: string, hostHeader?: string): Promise<void> {
  for (;;) {
    try {
      if ((await get(port, hostHeader ?? host, '/', { timeoutMs: 1000, ...(hostHeader ? {} : {}) })).status === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A GET to `host:port` (no Host rewriting): the baseline polls the task's node port directly. */
async function untilAnswers(host: string, port: number): Promise<void> {
  const http = await import('node:http');
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.request({ host, port, path: '/', agent: false, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

// Swarm's default heartbeat (5 s): a dead node is noticed after about three of them, as in production.
const cluster = await startSwarmCluster({ nodes: 3, log: () => {} });
const manager = cluster.docker(0);
const docker = createDockerodeDriver({ docker: manager });
const swarm = createSwarmDriver({ docker: manager });
const labels = imageLabels();
const local = await buildBusybox(docker, labels, WEB);
const repo = `${cluster.registry}/bench/web`;
const digest = await swarm.pushImage(local, repo, 'v1');
const image = `${repo}:v1`;
const nodes = new Map((await swarm.listNodes()).map((n) => [n.id, n]));

async function startServer(env: Record<string, string>, opts: Parameters<typeof createRuntime>[1]) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-bench-swarm-'));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ROOT_DOMAIN: 'bench.test', INGRESS_PORT: String(await freePort()), INGRESS_PROCESS: 'inprocess', ...env });
  const rt = await createRuntime(config, { log: pino({ level: 'warn' }), ...opts });
  await rt.start();
  await rt.app.listen({ port: 0, host: '127.0.0.1' });
  const api = `http://127.0.0.1:${(rt.app.server.address() as AddressInfo).port}`;
  const reg = (await (await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) })).json()) as { accessToken: string };
  const auth = { authorization: `Bearer ${reg.accessToken}`, 'content-type': 'application/json' };
  return { rt, api, auth, config, dataDir };
}

type Server = Awaited<ReturnType<typeof startServer>>;

async function viaCynchro(s: Server, name: string, img: string, replicas = 1): Promise<{ ms: number; appId: string; domain: string }> {
  const t0 = performance.now();
  const r = (await (await fetch(`${s.api}/deploy`, { method: 'POST', headers: s.auth, body: JSON.stringify({ name, image: img, port: 8080, replicas }) })).json()) as { appId: string; domain: string };
  await until200(s.config.ingressPort, r.domain);
  return { ms: performance.now() - t0, appId: r.appId, domain: r.domain };
}

async function remove(s: Server, appId: string): Promise<void> {
  await s.rt.services.worker.idle();
  await fetch(`${s.api}/apps/${appId}`, { method: 'DELETE', headers: { authorization: s.auth.authorization } });
}

/** The limit: a service created straight on the manager, its one task polled until it answers at its node's port. */
async function viaServiceCreate(i: number): Promise<number> {
  const net = await swarm.ensureOverlay(`bench-net-${i}`, { ...labels, [LABELS.managed]: 'true' });
  const t0 = performance.now();
  const id = await swarm.createService({ name: `bench-svc-${i}`, image: `${repo}@${digest}`, env: {}, labels: { ...labels }, replicas: 1, network: net, aliases: ['web'], port: 8080, secrets: [], volumes: [], constraints: [], stopGraceSeconds: 1 });
  let at: { host: string; port: number } | undefined;
  while (!at) {
    const t = (await swarm.listTasks([id])).find((x) => x.state === 'running' && x.hostPort);
    if (t) at = { host: nodes.get(t.nodeId)!.addr, port: t.hostPort! };
    else await new Promise((r) => setTimeout(r, 20));
  }
  await untilAnswers(at.host, at.port);
  const ms = performance.now() - t0;
  await swarm.removeService(id);
  const [n] = await swarm.listOverlays({ ...labels });
  if (n) await swarm.removeOverlay(n.id, 60_000);
  return ms;
}

const onSwarm = await startServer({ RUNTIME: 'swarm', REGISTRY: cluster.registry, SWARM_POLL_MS: '300' }, { docker, swarm });
// The single-engine runtime on the host's own engine (containers on 127.0.0.1), same image built there.
const hostDocker = createDockerodeDriver();
const hostImage = await buildBusybox(hostDocker, labels, WEB);
const onEngine = await startServer({}, { docker: hostDocker });

await viaServiceCreate(-1); // warm-up every path
await remove(onSwarm, (await viaCynchro(onSwarm, 'warm', image)).appId);
await remove(onEngine, (await viaCynchro(onEngine, 'warm', hostImage)).appId);
const limit: number[] = [];
const swarmRuns: number[] = [];
const engineRuns: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  limit.push(await viaServiceCreate(i));
  const s = await viaCynchro(onSwarm, `b-${i}`, image);
  swarmRuns.push(s.ms);
  await remove(onSwarm, s.appId);
  const e = await viaCynchro(onEngine, `b-${i}`, hostImage);
  engineRuns.push(e.ms);
  await remove(onEngine, e.appId);
}
console.log(`docker service create + poll the task      : ${list(limit)}`);
console.log(`POST /deploy → 200, RUNTIME=swarm           : ${list(swarmRuns)}`);
console.log(`POST /deploy → 200, RUNTIME=docker (1 engine): ${list(engineRuns)}`);
console.log(`swarm runtime / service create: ${(median(swarmRuns) / median(limit)).toFixed(2)}; swarm runtime / single engine: ${(median(swarmRuns) / median(engineRuns)).toFixed(2)}`);

// Failover.
const app = await viaCynchro(onSwarm, 'failover', image, 3);
await onSwarm.rt.services.worker.idle();
const services = await swarm.listServices({ [LABELS.app]: app.appId });
const tasks = (await swarm.listTasks(services.map((s) => s.id))).filter((t) => t.state === 'running');
const victimNode = tasks.map((t) => nodes.get(t.nodeId)!).find((n) => n.role === 'worker')!;
const victim = cluster.nodes.findIndex((n) => n.name === victimNode.hostname);
let ok = 0;
let failed = 0;
let polling = true;
const poller = (async () => {
  while (polling) {
    try {
      if ((await get(onSwarm.config.ingressPort, app.domain, '/', { timeoutMs: 2000 })).status === 200) ok++;
      else failed++;
    } catch {
      failed++;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
})();
const t0 = performance.now();
await cluster.stopNode(victim);
for (;;) {
  const now = (await swarm.listTasks(services.map((s) => s.id))).filter((t) => t.state === 'running' && t.desiredState === 'running' && t.nodeId !== victimNode.id);
  const r = (await (await fetch(`${onSwarm.api}/apps/${app.appId}`, { headers: onSwarm.auth })).json()) as { app: { status: string } };
  if (now.length >= 3 && r.app.status === 'running') break;
  await new Promise((r) => setTimeout(r, 100));
}
const back = performance.now() - t0;
await new Promise((r) => setTimeout(r, 1000));
polling = false;
await poller;
console.log(`failover: worker ${victimNode.hostname}'s engine killed → three replicas running on the live nodes after ${back.toFixed(0)} ms; ${ok} requests ok, ${failed} failed meanwhile (polling every 20 ms)`);

await remove(onSwarm, app.appId);
for (const s of [onSwarm, onEngine] as Server[]) {
  await (s.rt as Runtime).close();
  fs.rmSync(s.dataDir, { recursive: true, force: true });
}
await hostDocker.removeByLabels(labels);
await hostDocker.close();
await docker.close();
await cluster.close();
process.exit(0);
