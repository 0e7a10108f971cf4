// `cynchro deploy <name> --compose FILE` end to end on the fake engine: the bin in its own process, acting with an
// API token (CYNCHRO_TOKEN) against a real server (the server tests' harness: the composition root of main.ts with
// the in-memory engine), then the app's services as GET /apps/{id} tells them. The same on the real engine:
// compose.docker.test.ts. Each Compose feature and refusal in detail: packages/sdk/test/compose.test.ts.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDockerDriver, LABELS, type ContainerSpec } from '@cynchro/docker-driver';
import { createClient, type CynchroClient } from '@cynchro/sdk';
import { readOperatorToken } from '@cynchro/server/testing';
import { startHarness, type Harness } from '../../server/test/harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '..', 'bin', 'cynchro.js');
const fixtures = path.resolve(here, '..', '..', 'sdk', 'test', 'fixtures', 'compose');
const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

const docker = createFakeDockerDriver();
const me = { email: `${uniq('compose')}@example.com`, password: 'compose password 1' };
let h: Harness;
let url: string;
let owner: CynchroClient;
let token: string;
let config: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The bin as CI runs it: CYNCHRO_TOKEN and CYNCHRO_URL, no credentials file; `env` sets (or, undefined, unsets) variables. */
function cynchro(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const full: Record<string, string | undefined> = { ...process.env, XDG_CONFIG_HOME: config, CYNCHRO_URL: url, CYNCHRO_TOKEN: token, CYNCHRO_REPO_TOKEN: '', ...env };
  for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: full, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** What the fake engine was asked to run for an app: service → the spec of its (first) container. */
function containers(appId: string): Map<string, ContainerSpec> {
  const out = new Map<string, ContainerSpec>();
  for (const c of docker.calls) {
    const spec = c.args[0] as ContainerSpec;
    if (c.method === 'runContainer' && spec.labels[LABELS.app] === appId && !out.has(spec.labels[LABELS.service]!)) out.set(spec.labels[LABELS.service]!, spec);
  }
  return out;
}

beforeAll(async () => {
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-compose-'));
  h = await startHarness({ ADMIN_EMAILS: me.email }, { docker });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  owner = createClient({ url });
  await owner.auth.register(me);
  await owner.admin.claim(readOperatorToken(h.dataDir));
  await owner.admin.unseal(randomBytes(32).toString('hex')); // inline env is encrypted at rest
  token = (await owner.tokens.create({ name: 'compose-ci', scopes: ['deploy', 'read'] })).secret;
});

afterAll(async () => {
  await h?.close();
  fs.rmSync(config, { recursive: true, force: true });
});

describe('cynchro deploy --compose (fake engine)', () => {
  it('web + postgres + redis: deploys, waits, and the app has exactly the services of the file', async () => {
    const name = uniq('shop');
    const r = await cynchro(['deploy', name, '--compose', path.join(fixtures, 'web-postgres-redis.yml'), '--env', 'SHARED=1', '--wait', '--json'], { POSTGRES_PASSWORD: 's3cret' });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { appId: string; status: string; domain: string };
    expect(out).toMatchObject({ status: 'succeeded', domain: 'shop.example.com' });

    const { app } = await owner.apps.get(out.appId);
    expect(app).toMatchObject({ name, kind: 'services', status: 'running', envKeys: ['SHARED'], repo: null });
    expect(app.services).toEqual([
      {
        name: 'web',
        image: 'ghcr.io/acme/shop-web:1.4.2',
        build: null,
        port: 8080,
        domain: 'shop.example.com',
        url: expect.stringContaining('shop.example.com'),
        command: ['node', 'dist/server.js', '--port', '8080'],
        envKeys: ['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'WORKERS'],
        envFrom: [],
        secretFiles: [],
        cpu: 0.5,
        memory: 256,
        volumes: [],
        healthcheck: { path: '/healthz' },
        dependsOn: ['db', 'cache'],
        replicas: 2,
      },
      {
        name: 'db',
        image: 'postgres:16-alpine',
        build: null,
        port: null,
        domain: null,
        url: null,
        command: null,
        envKeys: ['POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_PASSWORD', 'PGDATA'],
        envFrom: [],
        secretFiles: [],
        cpu: 1,
        memory: 1024,
        volumes: [{ name: 'db-data', path: '/var/lib/postgresql/data' }],
        healthcheck: null,
        dependsOn: [],
        replicas: 1,
      },
      {
        name: 'cache',
        image: 'redis:7-alpine',
        build: null,
        port: null,
        domain: null,
        url: null,
        command: ['redis-server', '--appendonly', 'yes', '--maxmemory', '200mb', '--save', ''],
        envKeys: [],
        envFrom: [],
        secretFiles: [],
        cpu: 0.25,
        memory: 512,
        volumes: [{ name: 'cache-data', path: '/data' }],
        healthcheck: null,
        dependsOn: [],
        replicas: 1,
      },
    ]);
    // ${POSTGRES_PASSWORD} came from the CLI's environment; --env applies to every service.
    const run = containers(out.appId);
    expect(run.get('web')!.env).toMatchObject({ DATABASE_URL: 'postgres://shop:s3cret@db:5432/shop', SHARED: '1', WORKERS: '4' });
    expect(run.get('db')!.env).toMatchObject({ POSTGRES_PASSWORD: 's3cret', SHARED: '1' });
  });

  it('a web front and a worker without ports: only the web is routed, on the app domain', async () => {
    const name = uniq('jobs');
    const r = await cynchro(['deploy', name, '--compose', path.join(fixtures, 'worker.yml'), '--wait', '--json'], { QUEUES: 'default,mail' });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { appId: string; domain: string };
    const { app } = await owner.apps.get(out.appId);
    expect(app.services.map((s) => ({ name: s.name, port: s.port, domain: s.domain, replicas: s.replicas, memory: s.memory, dependsOn: s.dependsOn, envKeys: s.envKeys, command: s.command }))).toEqual([
      { name: 'web', port: 8000, domain: out.domain, replicas: 1, memory: 256, dependsOn: [], envKeys: [], command: null },
      { name: 'worker', port: null, domain: null, replicas: 3, memory: 512, dependsOn: ['web'], envKeys: ['BROKER_URL', 'QUEUES'], command: ['celery', '-A', 'acme.tasks', 'worker', '--loglevel=INFO'] },
    ]);
    expect(out.domain).toBe(`${name}.${h.config.rootDomain}`);
    expect(containers(out.appId).get('worker')!.env).toMatchObject({ QUEUES: 'default,mail' });
  });

  it('a file Cynchro cannot run: exit 2, every problem as FILE:LINE: KEY: MESSAGE, nothing deployed', async () => {
    const name = uniq('refused');
    const file = path.join(fixtures, 'refused.yml');
    const r = await cynchro(['deploy', name, '--compose', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`usage error: ${file} cannot be deployed (22 problems):`);
    const problems = lines.filter((l) => l.startsWith(`${file}:`));
    expect(problems).toHaveLength(22);
    expect(problems).toContain(`${file}:5: services.web.privileged: privileged containers are never run: they would own the host`);
    expect(problems).toContain(`${file}:8: services.web.ports[1]: a service has one port, the one the ingress routes HTTP to; its siblings reach every port without ports: keep one`);
    expect(problems.find((l) => l.startsWith(`${file}:10: services.web.volumes[0]: bind mounts are refused`))).toBeDefined();
    expect(problems.find((l) => l.startsWith(`${file}:16: services.web.frobnicate: unknown or unsupported key`))).toBeDefined();
    expect(problems.find((l) => l.startsWith(`${file}:20: services.sidecar.network_mode: host networking is refused`))).toBeDefined();
    expect(problems.find((l) => l.startsWith(`${file}:13: services.web.devices: `))).toBeDefined();
    expect(r.stderr).toContain('Run `cynchro --help` for usage.');
    expect((await owner.apps.list()).map((a) => a.name)).not.toContain(name);
  });

  it('build services need --repo; an unset ${VAR} is named; flags the file says per service are usage errors', async () => {
    const build = path.join(fixtures, 'build-from-repo.yml');
    const noRepo = await cynchro(['deploy', uniq('b'), '--compose', build]);
    expect(noRepo.code).toBe(2);
    expect(noRepo.stderr).toContain(`${build}:12: services.api.build: a service built from source needs the app's repo: pass --repo URL`);
    expect(noRepo.stderr).toContain(`${build}:27: services.frontend.build: `);

    const unset = await cynchro(['deploy', uniq('w'), '--compose', path.join(fixtures, 'worker.yml')], { QUEUES: undefined });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(`worker.yml:18: services.worker.environment[1]: QUEUES has no value here and is not set in the environment`);

    const both = await cynchro(['deploy', uniq('x'), '--compose', build, '--image', 'acme/x:1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--image does not go with --compose');
    const port = await cynchro(['deploy', uniq('x'), '--compose', build, '--port', '80']);
    expect(port.stderr).toContain('--port does not go with --compose');
    const missing = await cynchro(['deploy', uniq('x'), '--compose', path.join(fixtures, 'no-such-file.yml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*no-such-file\.yml: ENOENT/);
  });

  it('--help shows the --compose form and its exit code', async () => {
    const r = await cynchro(['--help']);
    expect(r.stdout).toContain('deploy <name> --compose FILE');
    expect(r.stdout).toContain('exits 2, printing');
  });
});
