// The Docker engine itself restarts under running apps: dockerd is stopped (SIGTERM, as an upgrade or a reboot of
// the daemon does) and started again exactly as scripts/ensure-system.sh starts it. While it is down, the ingress
// answers 503 for the apps (not 502, not a hang); once it answers again, every app is served again through the
// ingress (the engine restarted the containers on new published ports), `running`, its secret files delivered
// again into the fresh tmpfs, and nothing orphaned or missing.
//
// It stops the engine every other real-engine test uses, so scripts/test.sh runs it on its own, after the rest.
// In-process server (the harness): the control plane itself is not restarted here.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { startHarness, type Harness } from './harness.js';
import { get } from './http-get.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle, until } from './wait.js';

const run = promisify(execFile);
const LOG_FILE = '/var/log/cynchro-dockerd.log';

let h: Harness;
let docker: DockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let webImage: string;
let secretImage: string;
const testImages = imageLabels();
const suffix = Math.random().toString(36).slice(2, 7);
const SECRET = `engine-restart-${suffix}`;

// "app=$APP host=<container hostname>" at /; the hostname tells replicas apart.
const WEB = `RUN ["/bin/mkdir","-p","/www"]
CMD ["sh","-c","echo \\"app=$APP host=$(hostname)\\" > /www/index.html; exec httpd -f -p 8080 -h /www"]`;
// Also serves /run/secrets/TOKEN as /secret.txt once the platform has put it there (a few ms after each start,
// into a tmpfs that is empty again after every start). The copy in the web root is removed first at each start:
// the container's own layer survives an engine restart, the tmpfs does not.
const WITH_SECRET = `RUN ["/bin/mkdir","-p","/www"]
CMD ["sh","-c","rm -f /www/secret.txt; echo \\"app=$APP host=$(hostname)\\" > /www/index.html; (until [ -s /run/secrets/TOKEN ]; do usleep 20000; done; cat /run/secrets/TOKEN > /www/secret.txt) & exec httpd -f -p 8080 -h /www"]`;

// ---- the engine, as scripts/ensure-system.sh manages it

async function engineAnswers(): Promise<boolean> {
  return run('docker', ['info'], { timeout: 10_000 }).then(
    () => true,
    () => false,
  );
}

async function dockerdPids(): Promise<number[]> {
  const r = await run('pgrep', ['-x', 'dockerd']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** `rm -f /var/run/docker.pid` (only when no dockerd runs) then `nohup dockerd >>LOG 2>&1 &`, not owned by vitest. */
async function startDockerd(): Promise<void> {
  if ((await dockerdPids()).length) return;
  fs.rmSync('/var/run/docker.pid', { force: true });
  fs.mkdirSync('/var/log', { recursive: true });
  const out = fs.openSync(LOG_FILE, 'a');
  try {
    const child = spawn('nohup', ['dockerd'], { detached: true, stdio: ['ignore', out, out] });
    child.on('error', () => undefined);
    child.unref();
  } finally {
    fs.closeSync(out);
  }
}

async function ensureEngine(): Promise<void> {
  if (await engineAnswers()) return;
  // A dockerd still stopping must end before another can start.
  await until('the old dockerd to exit', async () => (await dockerdPids()).length === 0, { timeoutMs: 60_000, everyMs: 200 });
  await startDockerd();
  await until('dockerd to answer', engineAnswers, { timeoutMs: 60_000, everyMs: 250 });
}

// ---- the apps

interface TestApp {
  label: string;
  replicas: number;
  appId: string;
  deploymentId: string;
  domain: string;
}

const apps: TestApp[] = [];

async function deploy(label: string, body: Record<string, unknown>): Promise<TestApp> {
  const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: `er-${label}-${suffix}`, port: 8080, env: { APP: label }, ...body } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const { deployment } = await settle(call, r.body.appId, r.body.deploymentId, alice.accessToken, { timeoutMs: 120_000, everyMs: 100 });
  expect(deployment.status, JSON.stringify(deployment)).toBe('succeeded');
  return { label, replicas: (body.replicas as number | undefined) ?? 1, appId: r.body.appId, deploymentId: r.body.deploymentId, domain: r.body.domain };
}

const viaIngress = (domain: string, path = '/', timeoutMs = 3_000) => get(h.config.ingressPort, domain, path, { timeoutMs });
const servedBy = (a: TestApp, r: { status: number; body: string }) => r.status === 200 && r.body.startsWith(`app=${a.label} host=`);

/** The app's containers (all of them, any state) are exactly its replicas count, all running, all of its current release. */
async function containersOf(a: TestApp) {
  const cs = await docker.listContainers({ [LABELS.app]: a.appId }, { all: true });
  return cs.map((c) => ({ deployment: c.labels[LABELS.deployment], running: c.running, hostPort: c.hostPort }));
}
const exactly = (a: TestApp) => Array.from({ length: a.replicas }, () => ({ deployment: a.deploymentId, running: true }));
const shape = (cs: { deployment: string | undefined; running: boolean }[]) => cs.map(({ deployment, running }) => ({ deployment, running }));

beforeAll(async () => {
  await ensureEngine();
  docker = createDockerodeDriver();
  [webImage, secretImage] = await Promise.all([buildBusybox(docker, testImages, WEB), buildBusybox(docker, testImages, WITH_SECRET)]);
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test' }, { docker });
  alice = await register();
  // Secret files need the vault open, at the deploy and for every later recreation.
  expect((await unseal(await operator(), newMasterKey())).status).toBe(200);
  expect((await call('POST', '/secrets', { token: alice.accessToken, body: { name: `files-${suffix}`, data: { TOKEN: SECRET } } })).status).toBe(200);
  apps.push(
    ...(await Promise.all([
      deploy('pair', { image: webImage, replicas: 2 }),
      deploy('secret', { image: secretImage, secretFiles: [`files-${suffix}`] }),
      deploy('plain', { image: webImage }),
    ])),
  );
}, 240_000);

afterAll(async () => {
  // Whatever happened, the engine is left running for everything after this file.
  await ensureEngine().catch((e) => console.error(`[engine-restart] could not bring dockerd back: ${String(e)}`));
  if (h && alice) for (const a of apps) await call('DELETE', `/apps/${a.appId}`, { token: alice.accessToken }).catch(() => undefined);
  await h?.close();
  if (docker) {
    if (alice) await docker.removeByLabels({ [LABELS.org]: alice.orgId }).catch(() => undefined);
    await docker.removeByLabels(testImages).catch(() => undefined);
    await docker.close();
  }
}, 180_000);

describe('the Docker engine restarts under running apps', () => {
  it('503 while it is down; afterwards every app is served again, running, with its secret files, nothing orphaned', { timeout: 300_000 }, async () => {
    // Before: all served, the secret file delivered, the containers as the releases say.
    for (const a of apps) {
      expect(servedBy(a, await viaIngress(a.domain)), a.label).toBe(true);
      expect(shape(await containersOf(a)), a.label).toEqual(exactly(a));
    }
    const secretApp = apps.find((a) => a.label === 'secret')!;
    expect(await until('the secret file in the web root', async () => {
      const r = await viaIngress(secretApp.domain, '/secret.txt');
      return r.status === 200 && r.body === SECRET;
    }, { timeoutMs: 20_000 })).toBe(true);
    const portsBefore = new Map(await Promise.all(apps.map(async (a) => [a.label, (await containersOf(a)).map((c) => c.hostPort)] as const)));

    // Stop the engine as a service manager would: SIGTERM, then it stops its containers and exits.
    const [pid] = await dockerdPids();
    expect(pid, 'a dockerd to stop').toBeDefined();
    const stoppedAt = Date.now();
    process.kill(pid!, 'SIGTERM');
    await until('`docker info` to fail', async () => !(await engineAnswers()), { timeoutMs: 60_000, everyMs: 100 });
    const engineGoneMs = Date.now() - stoppedAt;

    // While it is down (stopping its containers, then gone), the ingress answers 503 for every app once its
    // containers are gone: not a 502 from a dead published port, not a hang.
    // Per app and answer: how many, and when first and last (ms after `docker info` first failed).
    const goneAt = Date.now();
    const seen = new Map<string, Map<string, { n: number; firstMs: number; lastMs: number }>>(apps.map((a) => [a.label, new Map()]));
    const note = (a: TestApp, what: string) => {
      const at = Date.now() - goneAt;
      const m = seen.get(a.label)!;
      const e = m.get(what) ?? { n: 0, firstMs: at, lastMs: at };
      m.set(what, { ...e, n: e.n + 1, lastMs: at });
    };
    let exitedAt: number | undefined;
    let pollsAfterExit = 0;
    const downUntil = Date.now() + 90_000;
    while (Date.now() < downUntil) {
      await Promise.all(
        apps.map(async (a) => {
          const t0 = Date.now();
          try {
            const r = await viaIngress(a.domain, '/', 3_000);
            note(a, `${r.status}`);
          } catch (e) {
            note(a, `${(e as Error).message === 'timeout' ? 'hang' : ((e as NodeJS.ErrnoException).code ?? (e as Error).message)} after ${Math.round((Date.now() - t0) / 1000)} s`);
          }
        }),
      );
      if (exitedAt === undefined && (await dockerdPids()).length === 0) exitedAt = Date.now();
      if (exitedAt !== undefined && ++pollsAfterExit >= 10 && Date.now() - exitedAt > 1_500) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(exitedAt, 'dockerd to exit after SIGTERM').toBeDefined();
    const down = Object.fromEntries([...seen].map(([label, m]) => [label, Object.fromEntries(m)]));
    console.log(
      `[engine-restart] dockerd stopped answering ${engineGoneMs} ms after SIGTERM and exited ${exitedAt! - stoppedAt} ms after it; ` +
        `the ingress answered meanwhile (count, first and last ms after \`docker info\` failed): ${JSON.stringify(down)}`,
    );
    // Soft: when this fails, the recovery below is still exercised and reported. dockerd stops answering its API
    // before it has stopped the containers, so a replica may still answer 200 for a moment; what must never be
    // seen is a 502 or a hang (a route to a port nothing owns), and once the containers are gone, 503.
    for (const a of apps) {
      const what = `what the ingress answered for ${a.label} while the engine was down: ${JSON.stringify(down[a.label])}`;
      expect.soft(Object.keys(down[a.label]!).filter((status) => status !== '200' && status !== '503'), what).toEqual([]);
      expect.soft(down[a.label]!['503']?.n ?? 0, what).toBeGreaterThan(0);
    }

    // Start it again exactly as scripts/ensure-system.sh does.
    await startDockerd();
    await until('dockerd to answer again', engineAnswers, { timeoutMs: 90_000, everyMs: 100 });
    const backAt = Date.now();

    // Every app served again through the ingress, each timed from the engine answering again.
    const recovery = await Promise.all(
      apps.map(async (a) => {
        await until(`${a.label} to be served again through the ingress`, async () => servedBy(a, await viaIngress(a.domain, '/', 2_000)), { timeoutMs: 60_000, everyMs: 50 });
        return [a.label, Date.now() - backAt] as const;
      }),
    );
    const secretBackMs = await until('the secret file delivered again', async () => {
      const r = await viaIngress(secretApp.domain, '/secret.txt', 2_000);
      return r.status === 200 && r.body === SECRET ? Date.now() - backAt : undefined;
    }, { timeoutMs: 60_000, everyMs: 50 });
    console.log(`[engine-restart] served again after dockerd answered: ${recovery.map(([l, ms]) => `${l} ${ms} ms`).join(', ')}; secret file back after ${secretBackMs} ms`);

    for (const a of apps) {
      // GET /apps/:id says running.
      const r = await until(`${a.label} to be running`, async () => {
        const g = await call('GET', `/apps/${a.appId}`, { token: alice.accessToken });
        return g.body?.app?.status === 'running' ? g : undefined;
      }, { timeoutMs: 30_000, everyMs: 100 }).catch(async () => call('GET', `/apps/${a.appId}`, { token: alice.accessToken }));
      expect(r.body.app, a.label).toMatchObject({ status: 'running', currentDeploymentId: a.deploymentId });

      // Nothing orphaned or missing: exactly its replicas, all of its current release, running.
      await until(`${a.label}'s containers to be exactly its release's`, async () => JSON.stringify(shape(await containersOf(a))) === JSON.stringify(exactly(a)), { timeoutMs: 30_000, everyMs: 100 }).catch(() => undefined);
      const cs = await containersOf(a);
      expect(shape(cs), a.label).toEqual(exactly(a));

      // The route points at exactly the ports the app's replicas publish now (they changed with the restart).
      const ports = cs.map((c) => c.hostPort).sort();
      await until(`${a.label}'s route to follow its new ports`, () => {
        const route = h.deps.ingress.routes().find((x) => x.domain === a.domain);
        return JSON.stringify(route?.targets.map((t) => t.port).sort()) === JSON.stringify(ports);
      }, { timeoutMs: 30_000 }).catch(() => undefined);
      const route = h.deps.ingress.routes().find((x) => x.domain === a.domain);
      expect(route?.targets.map((t) => t.port).sort(), `${a.label}: route targets vs published ports (before the restart: ${portsBefore.get(a.label)?.join(', ')})`).toEqual(ports);
    }

    // Both replicas of the pair serve again.
    const pair = apps.find((a) => a.replicas === 2)!;
    const hosts = new Set<string>();
    await until('both replicas of the pair to answer through the ingress', async () => {
      const r = await viaIngress(pair.domain);
      if (servedBy(pair, r)) hosts.add(r.body.trim().split('host=')[1]!);
      return hosts.size === 2;
    }, { timeoutMs: 20_000, everyMs: 20 });
  });
});
