// pnpm bench:api — authenticated GET /auth/me through the whole stack (REST adapter, tRPC, JWT, session lookup in
// SQLite) against a bare Fastify route answering a similar JSON body, in the same process and run. Beside them, the
// design's floor: the same REST path served by tRPC through trpc-to-openapi (as patched here) and nothing else, one
// procedure with /auth/me's output schema answering a constant: no authentication, rate limit, audit or permission.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { initTRPC } from '@trpc/server';
import { fastifyTRPCOpenApiPlugin, type OpenApiMeta } from 'trpc-to-openapi';
import { z } from 'zod';
import pino from 'pino';
import { createVault } from '@cynchro/vault';
import { createFakeDockerDriver } from '@cynchro/docker-driver';
import { loadConfig } from '../src/config.js';
import { createRuntime } from '../src/runtime.js';
import { Me } from '../src/modules/auth/auth.schema.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PIN = process.env.BENCH_PIN === '1';
if (PIN) await promisify(execFile)('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);

const autocannonBin = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'node_modules', '.bin', 'autocannon');

// The load comes from another process, so the server under test has this process's core to itself.
// Besides requests per second, the server's CPU time per request (this process's user+system time over the run, the
// other server idle meanwhile): steadier than req/s on a machine whose other work competes for the cores.
async function run(url: string, headers: Record<string, string>) {
  const cpu = process.cpuUsage();
  const args = ['-j', '-c', '32', '-d', String(DURATION)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  // BENCH_PIN=1: the load generator on the last CPU, this process (the servers) on the first, so that the scheduler
  // does not move them around between runs (runs then vary less; see the note in the issue).
  const [cmd, argv] = PIN ? ['taskset', ['-c', String(os.cpus().length - 1), autocannonBin, ...args, url]] : [autocannonBin, [...args, url]];
  const { stdout } = await promisify(execFile)(cmd, argv, { maxBuffer: 16 << 20 });
  const r = JSON.parse(stdout) as { non2xx: number; requests: { average: number; total: number }; latency: { p99: number } };
  if (r.non2xx) throw new Error(`${r.non2xx} non-2xx answers from ${url}`);
  const used = process.cpuUsage(cpu);
  return { rps: r.requests.average, p99: r.latency.p99, cpuUs: (used.user + used.system) / (r.requests.total || 1) };
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-bench-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
// The /auth limiter stays in the path (its cost is measured) with a limit the benchmark cannot reach.
// Docker is not on this path; the in-memory driver keeps the benchmark independent of the engine.
const rt = await createRuntime(config, { log: pino({ level: 'warn' }), docker: createFakeDockerDriver(), server: { authRateLimit: { limit: 1e12, windowMs: 300_000 } } });
const app = rt.app;
await app.listen({ port: 0, host: '127.0.0.1' });
const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const reg = await fetch(`${apiUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) });
const { accessToken, user, orgId } = (await reg.json()) as { accessToken: string; user: unknown; orgId: string };

const bare = Fastify();
bare.get('/auth/me', async () => ({ user, orgId }));
await bare.listen({ port: 0, host: '127.0.0.1' });
const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/auth/me`;

const t = initTRPC.meta<OpenApiMeta>().create();
const me = (await (await fetch(`${apiUrl}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as z.infer<typeof Me>;
const floorRouter = t.router({ me: t.procedure.meta({ openapi: { method: 'GET', path: '/auth/me' } }).input(z.void()).output(Me).query(() => me) });
const floor = Fastify();
await floor.register(fastifyTRPCOpenApiPlugin as never, { basePath: '/', router: floorRouter, createContext: () => ({}) });
await floor.listen({ port: 0, host: '127.0.0.1' });
const floorUrl = `http://127.0.0.1:${(floor.server.address() as AddressInfo).port}/auth/me`;

const auth = { authorization: `Bearer ${accessToken}` };
await run(bareUrl, auth); // warm-up all three
await run(floorUrl, auth);
await run(`${apiUrl}/auth/me`, auth);
type Run = Awaited<ReturnType<typeof run>>;
const results = { bare: [] as Run[], floor: [] as Run[], cynchro: [] as Run[] };
for (let i = 0; i < ROUNDS; i++) {
  results.bare.push(await run(bareUrl, auth));
  results.floor.push(await run(floorUrl, auth));
  results.cynchro.push(await run(`${apiUrl}/auth/me`, auth));
}
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const mean = (rs: Run[]) => ({ rps: avg(rs.map((r) => r.rps)), p99: avg(rs.map((r) => r.p99)), cpuUs: avg(rs.map((r) => r.cpuUs)) });
const b = mean(results.bare);
const f = mean(results.floor);
const c = mean(results.cynchro);
console.log(`bare fastify      : ${b.rps.toFixed(0)} req/s, p99 ${b.p99.toFixed(1)} ms, ${b.cpuUs.toFixed(0)} µs CPU/request`);
console.log(`design floor      : ${f.rps.toFixed(0)} req/s, p99 ${f.p99.toFixed(1)} ms, ${f.cpuUs.toFixed(0)} µs CPU/request (tRPC + trpc-to-openapi alone; ${(f.rps / b.rps).toFixed(2)} of bare)`);
console.log(`cynchro /auth/me  : ${c.rps.toFixed(0)} req/s, p99 ${c.p99.toFixed(1)} ms, ${c.cpuUs.toFixed(0)} µs CPU/request`);
console.log(`CPU per request ratio (bare/cynchro): ${(b.cpuUs / c.cpuUs).toFixed(2)}`);
console.log(`ratio (cynchro/bare req/s): ${(c.rps / b.rps).toFixed(2)} (goal >= 0.5)`);
await rt.close();
await bare.close();
await floor.close();
fs.rmSync(dataDir, { recursive: true, force: true });
