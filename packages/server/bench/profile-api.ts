// pnpm exec tsx --conditions=cynchro-source packages/server/bench/profile-api.ts — where the time of an
// authenticated GET /auth/me goes (PROFILE_TARGET=bare: the bare Fastify route api.bench.ts compares against; PROFILE_TARGET=floor: its design floor).
// Starts the same server as api.bench.ts in a child process, warms it up, records a V8 CPU profile (the format of
// `node --cpu-prof`, over the inspector so that start-up is left out) while autocannon loads it from a third
// process, and prints the top frames by self time, by total time and by package. `profile-api.ts summarize <file.cpuprofile>` summarizes an existing profile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';

const here = path.dirname(new URL(import.meta.url).pathname);
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const TOP = Number(process.env.PROFILE_TOP ?? 25);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, Node's own code, this repository's sources, or V8's pseudo-frames. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/packages\/([^/]+)\/(src|dist)\//.exec(url);
  if (m) return `cynchro/${m[1]}`;
  return url.replace(/^file:\/\//, '');
}

function frameName(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/packages\//, '');
  return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
}

export function summarize(profile: CpuProfile, top = TOP): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample time per node: each sample's delta is the time until the next sample.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + dt);
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const selfByFrame = new Map<string, number>();
  const totalByFrame = new Map<string, number>();
  const selfByPkg = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const name = frameName(n);
    selfByFrame.set(name, (selfByFrame.get(name) ?? 0) + us);
    const pkg = packageOf(n.callFrame.url, n.callFrame.functionName);
    selfByPkg.set(pkg, (selfByPkg.get(pkg) ?? 0) + us);
    // Total time: counted once per distinct frame on the sample's stack (recursion is not counted twice).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = frameName(byId.get(cur)!);
      if (seen.has(f)) continue;
      seen.add(f);
      totalByFrame.set(f, (totalByFrame.get(f) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
  const table = (title: string, m: Map<string, number>, n: number) =>
    [`${title}:`, ...[...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${pct(us)}  ${k}`)].join('\n');
  const totals = new Map([...totalByFrame].filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(program)')));
  return [
    `profile: ${(totalUs / 1e6).toFixed(1)} s sampled`,
    table('self time by package', selfByPkg, 20),
    table('self time by function', selfByFrame, top),
    table('total time by function', totals, top),
  ].join('\n\n');
}

async function serve(): Promise<void> {
  const [{ default: pino }, { createFakeDockerDriver }, { loadConfig }, { createRuntime }, { Session }] = await Promise.all([
    import('pino'),
    import('@cynchro/docker-driver'),
    import('../src/config.js'),
    import('../src/runtime.js'),
    import('node:inspector/promises'),
  ]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-profile-'));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  const rt = await createRuntime(config, { log: pino({ level: 'warn' }), docker: createFakeDockerDriver(), server: { authRateLimit: { limit: 1e12, windowMs: 300_000 } } });
  await rt.app.listen({ port: 0, host: '127.0.0.1' });
  let url = `http://127.0.0.1:${(rt.app.server.address() as AddressInfo).port}`;
  const reg = await fetch(`${url}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }) });
  const { accessToken, user, orgId } = (await reg.json()) as { accessToken: string; user: unknown; orgId: string };
  if (process.env.PROFILE_TARGET === 'bare') {
    // The baseline api.bench.ts compares against, profiled the same way: where a bare Fastify route's time goes.
    const { default: Fastify } = await import('fastify');
    const bare = Fastify();
    bare.get('/auth/me', async () => ({ user, orgId }));
    await bare.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;
  } else if (process.env.PROFILE_TARGET === 'floor') {
    // The design's floor of api.bench.ts: the same REST path through tRPC and trpc-to-openapi and nothing else.
    const [{ default: Fastify }, { initTRPC }, { fastifyTRPCOpenApiPlugin }, { z }, { Me }] = await Promise.all([
      import('fastify'), import('@trpc/server'), import('trpc-to-openapi'), import('zod'), import('../src/modules/auth/auth.schema.js'),
    ]);
    const me = await (await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
    const t = initTRPC.meta<import('trpc-to-openapi').OpenApiMeta>().create();
    const router = t.router({ me: t.procedure.meta({ openapi: { method: 'GET', path: '/auth/me' } }).input(z.void()).output(Me).query(() => me) });
    const floor = Fastify();
    await floor.register(fastifyTRPCOpenApiPlugin as never, { basePath: '/', router, createContext: () => ({}) });
    await floor.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(floor.server.address() as AddressInfo).port}`;
  }
  // The profile covers the load only, not start-up and module loading: the same V8 profiler `--cpu-prof` drives,
  // started and stopped over the inspector when the parent says.
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.PROFILE_INTERVAL_US ?? 200) });
  process.once('SIGUSR2', () => void session.post('Profiler.start').then(() => process.stdout.write('started\n')));
  process.once('SIGTERM', () => {
    void (async () => {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(process.env.PROFILE_FILE!, JSON.stringify(profile));
      await rt.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    })();
  });
  process.stdout.write(`${JSON.stringify({ url, accessToken })}\n`);
}

function lines(stream: NodeJS.ReadableStream): () => Promise<string> {
  let buf = '';
  const waiting: ((l: string) => void)[] = [];
  const ready: string[] = [];
  stream.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else ready.push(l);
    }
  });
  return () => (ready.length ? Promise.resolve(ready.shift()!) : new Promise((resolve) => waiting.push(resolve)));
}

async function profile(): Promise<void> {
  const outDir = process.env.PROFILE_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cpuprof-'));
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `auth-me-${Date.now()}.cpuprofile`);
  const child = spawn(process.execPath, ['--conditions=cynchro-source', '--import', 'tsx', path.join(here, 'profile-api.ts'), 'serve'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PROFILE_FILE: file } });
  const next = lines(child.stdout);
  const { url, accessToken } = JSON.parse(await next()) as { url: string; accessToken: string };
  const autocannon = path.join(here, '..', 'node_modules', '.bin', 'autocannon');
  const load = (seconds: number) => promisify(execFile)(autocannon, ['-j', '-c', '32', '-d', String(seconds), '-H', `authorization=Bearer ${accessToken}`, `${url}/auth/me`], { maxBuffer: 16 << 20 });
  await load(2); // warm-up: JIT, caches
  child.kill('SIGUSR2');
  await next();
  const { stdout } = await load(DURATION);
  const r = JSON.parse(stdout) as { non2xx: number; requests: { average: number } };
  console.log(`load: ${r.requests.average.toFixed(0)} req/s while profiling (${r.non2xx} non-2xx)`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  console.log(`profile: ${file}\n`);
  console.log(summarize(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile));
}

const mode = process.argv[2];
if (mode === 'serve') await serve();
else if (mode === 'summarize') console.log(summarize(JSON.parse(fs.readFileSync(process.argv[3]!, 'utf8')) as CpuProfile));
else await profile();
