// Faults on the real Docker engine, seen through the real embedded ingress and the REST API: a container
// restarted, killed, removed or crashing behind the platform's back is served again and nothing is orphaned; an
// app whose container keeps dying is `failed` with the reason and `running` again once the cause is gone; three
// replicas share the traffic and lose none of it to a killed replica or a rollout; stop, restart and delete fired
// at once end in the state of the last call; a stop during a redeploy cancels it; a queued deployment superseded
// while its log stream is open ends that stream; a burst of redeploys ends with the last one serving.
//
// The faults are the Engine API's own calls (POST /containers/{id}/restart, /kill, DELETE …?force=1), sent over
// the engine's socket: what `docker restart|kill|rm -f` send, from outside the platform. (dockerode is a dependency
// of the driver package only, not of the server's, so it cannot be imported here.)
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDockerodeDriver, LABELS, type ContainerInfo, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, exec } from '@cynchro/docker-driver/testing';
import { startHarness, type Harness } from './harness.js';
import { get, keepAlive } from './http-get.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { FINAL, settle as settleVia, until } from './wait.js';

let h: Harness;
let docker: DockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let appImage: string;
let slowImage: string;
// Everything this file creates outside the platform (images, helper containers) carries this run's own label.
// As runLabels(): `managed` is not `true`, so no control plane's orphan sweep takes them; and no org label, since an
// image labelled for an org runs only for that org, and these are run by the test's users.
const runLabel = { [LABELS.managed]: 'driver-test', 'cloud.cynchro.test-run': `faults-${Math.random().toString(36).slice(2, 10)}` };
const suffix = Math.random().toString(36).slice(2, 7);
const name = (p: string) => `${p}-${suffix}`;

// Serves "version=$VERSION host=$(hostname)" (httpd in the background), then waits for a crash trigger: the file
// /tmp/crash (in the container's own layer, removed at each start: a one-off crash) or /data/crash (in a named
// volume when one is mounted there: every start exits at once while it exists). Either makes the app exit with 3.
const APP = `RUN ["/bin/mkdir","-p","/www","/tmp"]
CMD ["sh","-c","rm -f /tmp/crash; if [ -f /data/crash ]; then echo boom at start; exit 3; fi; echo \\"version=$VERSION host=$(hostname)\\" > /www/index.html; echo \\"started $VERSION\\"; httpd -p 8080 -h /www; while [ ! -f /tmp/crash ] && [ ! -f /data/crash ]; do usleep 50000; done; echo boom; exit 3"]`;
// Answers only after 8 s: a deployment of it sits in `deploying` (health check) that long.
const SLOW = `CMD ["sh","-c","echo warming up; sleep 8; mkdir -p /www; echo slow > /www/index.html; exec httpd -f -p 8080 -h /www"]`;

// ---- the engine, spoken to directly (as the docker CLI would)

const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock';

function engine(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { socketPath: DOCKER_SOCKET, method, path: `/v1.41${path}`, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const parsed = text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : undefined;
          if (status >= 400) reject(new Error(`${method} ${path}: ${status} ${text}`));
          else resolve({ status, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

type Fault = 'docker restart' | 'crash' | 'docker kill' | 'docker rm -f';

async function inflict(fault: Fault, id: string): Promise<void> {
  if (fault === 'docker restart') await engine('POST', `/containers/${id}/restart?t=10`);
  else if (fault === 'docker kill') await engine('POST', `/containers/${id}/kill`);
  else if (fault === 'docker rm -f') await engine('DELETE', `/containers/${id}?force=1`);
  else await exec(id, ['touch', '/tmp/crash']);
}

/** Runs `script` in a throwaway container of this run with the app's named volume at /data. */
async function inVolume(volume: string, script: string): Promise<void> {
  const c = await engine('POST', '/containers/create', { Image: appImage, Cmd: ['sh', '-c', script], Labels: runLabel, HostConfig: { Binds: [`${volume}:/data`] } });
  const id = c.body.Id as string;
  try {
    await engine('POST', `/containers/${id}/start`);
    const waited = await engine('POST', `/containers/${id}/wait`);
    expect(waited.body.StatusCode).toBe(0);
  } finally {
    await engine('DELETE', `/containers/${id}?force=1`);
  }
}

// ---- the API

async function deploy(body: Record<string, unknown>) {
  const r = await call('POST', '/deploy', { token: alice.accessToken, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body as { appId: string; deploymentId: string; domain: string; url: string };
}

const settle = (d: { appId: string; deploymentId: string }, want?: string[]) =>
  settleVia(call, d.appId, d.deploymentId, alice.accessToken, { timeoutMs: 120_000, everyMs: 50, ...(want ? { want } : {}) });

const appOf = (appId: string) => call('GET', `/apps/${appId}`, { token: alice.accessToken });

/** Waits for the deployment to end and expects it succeeded (its error as the message otherwise). */
async function succeeded(d: { appId: string; deploymentId: string }) {
  const s = await settle(d);
  expect(s.deployment.status, `deployment ${d.deploymentId}: ${s.deployment.error}`).toBe('succeeded');
  return s;
}

const viaIngress = (domain: string, path = '/') => get(h.config.ingressPort, domain, path);

/** Polls the domain every 20 ms until it answers 200 with a body starting with `prefix`; resolves with that moment. */
async function first200(domain: string, prefix: string, timeoutMs = 60_000): Promise<number> {
  return until(
    `${domain} to answer 200 (${prefix}…)`,
    async () => {
      const r = await get(h.config.ingressPort, domain, '/', { timeoutMs: 2000 });
      return r.status === 200 && r.body.startsWith(prefix) ? Date.now() : undefined;
    },
    { timeoutMs, everyMs: 20 },
  );
}

const containersOf = (appId: string, all = true) => docker.listContainers({ [LABELS.app]: appId }, { all });

/** Every container of this run's org belongs to an app that still exists. */
async function expectNoOrphans(): Promise<void> {
  const apps = new Set(((await call('GET', '/apps', { token: alice.accessToken })).body.apps as { id: string }[]).map((a) => a.id));
  const orphans = (await docker.listContainers({ [LABELS.org]: alice.orgId }, { all: true })).filter((c) => !apps.has(c.labels[LABELS.app] ?? ''));
  expect(orphans.map((c) => `${c.name} (${c.state})`)).toEqual([]);
}

/** Follows GET /apps/:id in the background and records every status it passes through, until stopped (at most 3 min). */
function watchStatus(appId: string) {
  const seen: string[] = [];
  let stop = false;
  const end = Date.now() + 180_000;
  const done = (async () => {
    while (!stop && Date.now() < end) {
      const r = await appOf(appId).catch(() => undefined);
      const s = r?.body?.app ? `${r.body.app.status}${r.body.app.statusReason ? ` (${r.body.app.statusReason})` : ''}` : `HTTP ${r?.status}`;
      if (seen.at(-1) !== s) seen.push(s);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  return {
    async stop(): Promise<string[]> {
      stop = true;
      await done;
      return seen;
    },
  };
}

/** A client polling the domain through the ingress (keep-alive, as browsers do), counting answers. Bounded: 3 min. */
function poll(domain: string) {
  const seen = { ok: 0, failed: 0, bodies: new Map<string, number>(), errors: [] as string[] };
  let stop = false;
  const end = Date.now() + 180_000;
  const done = (async () => {
    while (!stop && Date.now() < end) {
      try {
        const r = await get(h.config.ingressPort, domain, '/', { agent: keepAlive, timeoutMs: 5000 });
        if (r.status === 200) {
          seen.ok++;
          const b = r.body.trim();
          seen.bodies.set(b, (seen.bodies.get(b) ?? 0) + 1);
        } else {
          seen.failed++;
          seen.errors.push(`HTTP ${r.status} ${r.body.slice(0, 80)}`);
        }
      } catch (e) {
        seen.failed++;
        seen.errors.push(String(e));
      }
    }
  })();
  return {
    seen,
    async stop() {
      stop = true;
      await done;
      return seen;
    },
  };
}

beforeAll(async () => {
  docker = createDockerodeDriver();
  [appImage, slowImage] = await Promise.all([buildBusybox(docker, runLabel, APP), buildBusybox(docker, runLabel, SLOW)]);
  h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'faults.test' }, { docker, worker: { timeouts: { healthMs: 30_000 } } });
  alice = await register();
  const unsealed = await unseal(await operator(), newMasterKey());
  expect(unsealed.status, unsealed.raw).toBe(200);
}, 180_000);

afterAll(async () => {
  if (alice && h) {
    const apps = (await call('GET', '/apps', { token: alice.accessToken })).body?.apps ?? [];
    for (const a of apps) await call('DELETE', `/apps/${a.id}`, { token: alice.accessToken });
  }
  await h?.close();
  if (alice) await docker.removeByLabels({ [LABELS.org]: alice.orgId }, { volumes: true, images: true });
  await docker.removeByLabels(runLabel, { images: true });
  await docker?.close();
}, 120_000);

describe('faults of a running container', () => {
  it('docker restart, a crash, docker kill, docker rm -f: each time served again, running, one container, nothing orphaned', { timeout: 240_000 }, async () => {
    const d = await deploy({ name: name('fault'), image: appImage, port: 8080, env: { VERSION: 'f1' } });
    await succeeded(d);
    expect((await viaIngress(d.domain)).body).toMatch(/^version=f1 host=/);

    for (const fault of ['docker restart', 'crash', 'docker kill', 'docker rm -f'] as Fault[]) {
      const [before, ...more] = await containersOf(d.appId);
      expect(more).toEqual([]);
      const startedBefore = (await docker.inspectContainer(before!.id))!.startedAt;
      const statuses = watchStatus(d.appId);
      let t0 = Date.now();
      await inflict(fault, before!.id);
      // A crash is when its trigger lands (the app exits within 50 ms of it), not when `docker exec` began.
      if (fault === 'crash') t0 = Date.now();
      // The fault has struck once the container is gone, down, or started again (a crash takes a moment to exit).
      await until(`${fault} to take the container down`, async () => {
        const now = await docker.inspectContainer(before!.id);
        return !now || !now.running || now.restarting || now.startedAt !== startedBefore;
      }, { timeoutMs: 15_000, everyMs: 10 });
      const servedAt = await first200(d.domain, 'version=f1 ');
      console.log(`[faults] ${fault}: first 200 through the ingress ${servedAt - t0} ms after the fault`);
      // The API agrees promptly with what the ingress serves (no reconcile interval needed).
      const dto = await until(`app ${d.appId} to be running after ${fault}`, async () => {
        const a = (await appOf(d.appId)).body.app;
        return a.status === 'running' && a;
      }, { timeoutMs: 5_000, everyMs: 50 });
      console.log(`[faults] ${fault}: statuses seen: ${(await statuses.stop()).join(' → ')}`);
      expect(dto.currentDeploymentId).toBe(d.deploymentId);
      // After a full reconcile pass: still running, exactly one container (of the current deployment), no orphan.
      await h.services.reconciler.pass();
      const after = (await appOf(d.appId)).body.app;
      expect(after).toMatchObject({ status: 'running', statusReason: null });
      const cs = await containersOf(d.appId);
      expect(cs.map((c) => ({ deployment: c.labels[LABELS.deployment], running: c.running }))).toEqual([{ deployment: d.deploymentId, running: true }]);
      if (fault === 'docker rm -f') expect(cs[0]!.id).not.toBe(before!.id);
      expect((await viaIngress(d.domain)).status).toBe(200);
      await expectNoOrphans();
    }
    expect((await call('DELETE', `/apps/${d.appId}`, { token: alice.accessToken })).status).toBe(200);
  });

  it('an app whose container keeps dying is failed with the exit code, and running again once the cause is gone', { timeout: 240_000 }, async () => {
    const d = await deploy({ name: name('loop'), services: [{ name: 'web', image: appImage, port: 8080, env: { VERSION: 'l1' }, volumes: [{ name: 'data', path: '/data' }] }] });
    await succeeded(d);
    await first200(d.domain, 'version=l1 ', 10_000);
    const [volume, ...moreVolumes] = await docker.listVolumes({ [LABELS.app]: d.appId });
    expect(moreVolumes).toEqual([]);
    const statuses = watchStatus(d.appId);

    // The cause: a file in the app's volume. The running app exits with 3 on seeing it, and so does every restart.
    await inVolume(volume!.name, 'touch /data/crash');
    const t0 = Date.now();
    const failed = await until('the app to be failed', async () => {
      const a = (await appOf(d.appId)).body.app;
      return a.status === 'failed' && a;
    }, { timeoutMs: 60_000, everyMs: 50 });
    console.log(`[faults] crash loop: failed after ${Date.now() - t0} ms: ${failed.statusReason}`);
    expect(failed.statusReason).toMatch(/exited with code 3/);
    expect(failed.currentDeploymentId).toBe(d.deploymentId);
    // No container answers: the domain says so.
    expect((await viaIngress(d.domain)).status).toBe(503);

    // The cause goes away: the engine's next restart (its back-off grows) serves again, and the app is running.
    await inVolume(volume!.name, 'rm -f /data/crash');
    const t1 = Date.now();
    const servedAt = await first200(d.domain, 'version=l1 ', 120_000);
    console.log(`[faults] crash loop: served again ${servedAt - t1} ms after the cause went away`);
    const dto = await until('the app to be running again', async () => {
      const a = (await appOf(d.appId)).body.app;
      return a.status === 'running' && a;
    }, { timeoutMs: 5_000, everyMs: 50 });
    console.log(`[faults] crash loop: statuses seen: ${(await statuses.stop()).join(' → ')}`);
    expect(dto.statusReason).toBeNull();
    await h.services.reconciler.pass();
    expect((await appOf(d.appId)).body.app.status).toBe('running');
    const cs = await containersOf(d.appId);
    expect(cs.map((c) => ({ deployment: c.labels[LABELS.deployment], running: c.running }))).toEqual([{ deployment: d.deploymentId, running: true }]);
    await expectNoOrphans();
    expect((await call('DELETE', `/apps/${d.appId}`, { token: alice.accessToken })).status).toBe(200);
  });
});

describe('three replicas', () => {
  it('spread the traffic; a killed replica and a rollout cost zero failed requests; the rollout leaves 3 new containers', { timeout: 240_000 }, async () => {
    const body = (v: string) => ({ name: name('trio'), image: appImage, port: 8080, replicas: 3, env: { VERSION: v } });
    const d1 = await deploy(body('r1'));
    await succeeded(d1);
    const hostsOf = (cs: ContainerInfo[]) => cs.map((c) => c.id.slice(0, 12)).sort();
    const first = await containersOf(d1.appId);
    expect(first).toHaveLength(3);

    // Spread: 30 requests reach all three replicas.
    const spread = async (version: string, expected: string[]) => {
      const hosts = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const r = await viaIngress(d1.domain);
        expect(r.status).toBe(200);
        const m = /^version=(\S*) host=(\S+)$/.exec(r.body.trim());
        expect(m?.[1], r.body).toBe(version);
        hosts.set(m![2]!, (hosts.get(m![2]!) ?? 0) + 1);
      }
      console.log(`[faults] replicas ${version}: ${[...hosts].map(([k, n]) => `${k}×${n}`).join(', ')}`);
      expect([...hosts.keys()].sort()).toEqual(expected);
    };
    await spread('r1', hostsOf(first));

    // Kill one replica while a client polls.
    const victim = first[1]!;
    const p1 = poll(d1.domain);
    await until('the poller to get going', () => p1.seen.ok >= 10, { timeoutMs: 10_000 });
    const victimStarted = (await docker.inspectContainer(victim.id))!.startedAt;
    const t0 = Date.now();
    await engine('POST', `/containers/${victim.id}/kill`);
    const routed3 = () => h.deps.ingress.routes().find((r) => r.domain === d1.domain)?.targets.length === 3;
    // Back: started again (by the engine or the reconciler) or recreated, and routed with the other two.
    await until(
      'three replicas routed again',
      async () => {
        const v = await docker.inspectContainer(victim.id);
        return (!v || (v.running && v.startedAt !== victimStarted)) && routed3();
      },
      { timeoutMs: 60_000, everyMs: 20 },
    );
    console.log(`[faults] replicas: killed replica routed again after ${Date.now() - t0} ms`);
    const before = p1.seen.ok;
    await until('more requests after the recovery', () => p1.seen.ok >= before + 20, { timeoutMs: 10_000 });
    const s1 = await p1.stop();
    console.log(`[faults] replicas: during the kill ${s1.ok} ok, ${s1.failed} failed ${s1.errors.slice(0, 3).join(' | ')}`);
    expect(s1.failed).toBe(0);
    expect(s1.ok).toBeGreaterThan(30);
    expect(await containersOf(d1.appId)).toHaveLength(3);

    // A rollout while a client polls.
    const p2 = poll(d1.domain);
    await until('the poller to get going', () => p2.seen.ok >= 10, { timeoutMs: 10_000 });
    const d2 = await deploy(body('r2'));
    const { deployment, app } = await settle(d2);
    expect(deployment.status, deployment.error ?? '').toBe('succeeded');
    expect(app.currentDeploymentId).toBe(d2.deploymentId);
    const after = p2.seen.ok;
    await until('more requests after the rollout', () => p2.seen.ok >= after + 20, { timeoutMs: 10_000 });
    const s2 = await p2.stop();
    console.log(`[faults] replicas: during the rollout ${s2.ok} ok, ${s2.failed} failed; bodies ${[...s2.bodies.keys()].map((b) => b.slice(0, 20)).join(', ')}`);
    expect(s2.failed).toBe(0);
    expect(s2.ok).toBeGreaterThan(30);
    const versions = new Set([...s2.bodies.keys()].map((b) => b.split(' ')[0]));
    expect([...versions].sort()).toEqual(['version=r1', 'version=r2']);

    await h.worker.idle();
    const now = await containersOf(d1.appId);
    expect(now.map((c) => ({ deployment: c.labels[LABELS.deployment], running: c.running }))).toEqual(Array(3).fill({ deployment: d2.deploymentId, running: true }));
    await spread('r2', hostsOf(now));
    expect((await call('DELETE', `/apps/${d1.appId}`, { token: alice.accessToken })).status).toBe(200);
    await expectNoOrphans();
  });
});

describe('stop, restart and delete fired at once', () => {
  type Op = 'stop' | 'restart' | 'delete';
  const send = (op: Op, appId: string) =>
    op === 'delete' ? call('DELETE', `/apps/${appId}`, { token: alice.accessToken }) : call('POST', `/apps/${appId}/${op}`, { token: alice.accessToken });

  async function round(label: string, ops: Op[], opts: { duringRedeploy?: boolean } = {}) {
    const d = await deploy({ name: name(`race${label}`), image: appImage, port: 8080, env: { VERSION: 'c1' } });
    await succeeded(d);
    let redeploy: { appId: string; deploymentId: string } | undefined;
    if (opts.duringRedeploy) {
      redeploy = await deploy({ name: name(`race${label}`), image: slowImage, port: 8080 });
      await settle(redeploy, ['deploying']);
    }
    const finished: number[] = [];
    const answers = await Promise.all(ops.map((op, i) => send(op, d.appId).then((r) => (finished.push(i), r))));
    const summary = ops.map((op, i) => `${op}→${answers[i]!.status}${answers[i]!.body?.error ? ` ${answers[i]!.body.error}` : ''}${answers[i]!.body?.app ? ` ${answers[i]!.body.app.status}` : ''}`);
    console.log(`[faults] race ${label}${opts.duringRedeploy ? ' (during a redeploy)' : ''}: ${summary.join(', ')}; answered in order ${finished.map((i) => ops[i]).join(', ')}`);

    // Every answer is a success or a documented refusal, never a 5xx.
    if (answers.some((r) => r.status >= 500)) {
      const left = await containersOf(d.appId);
      console.log(`[faults] race ${label}: a 5xx; the app's containers now: ${left.map((c) => `${c.id.slice(0, 12)} ${c.state} ${c.labels[LABELS.deployment]}`).join(', ') || 'none'}; networks: ${(await docker.listNetworks({ [LABELS.app]: d.appId })).map((n) => n.name).join(', ') || 'none'}`);
    }
    answers.forEach((r, i) => {
      const ok = r.status === 200 || (r.status === 404 && r.body.error === 'app_not_found') || (r.status === 409 && r.body.error === 'conflict');
      expect(ok, `${ops[i]} answered ${r.status} ${r.raw}`).toBe(true);
      if (r.status === 200 && ops[i] !== 'delete') expect(r.body.app.status).toBe(ops[i] === 'stop' ? 'stopped' : 'running');
    });
    expect(answers.some((r) => r.status === 200)).toBe(true);

    const deleted = ops.some((op, i) => op === 'delete' && answers[i]!.status === 200);
    if (deleted) {
      expect((await appOf(d.appId)).status).toBe(404);
      await h.worker.idle();
      expect(await containersOf(d.appId)).toEqual([]);
      expect(await docker.listNetworks({ [LABELS.app]: d.appId })).toEqual([]);
      expect((await viaIngress(d.domain)).status).toBe(404);
      return;
    }
    // The app is in the state of the last call that succeeded (they run one after another, so it answered last).
    const last = ops[[...finished].reverse().find((i) => answers[i]!.status === 200)!]!;
    await h.worker.idle();
    await h.services.reconciler.pass();
    const r = await appOf(d.appId);
    expect(r.status).toBe(200);
    expect(r.body.deployments.filter((x: { status: string }) => !FINAL.includes(x.status))).toEqual([]);
    if (last === 'stop') {
      expect(r.body.app.status).toBe('stopped');
      expect((await viaIngress(d.domain)).status).toBe(503);
      expect(await containersOf(d.appId, false)).toEqual([]);
    } else {
      expect(r.body.app.status).toBe('running');
      expect((await viaIngress(d.domain)).body).toMatch(/^version=c1 /);
      const cs = await containersOf(d.appId);
      expect(cs.filter((c) => c.running)).toHaveLength(1);
      expect(cs).toHaveLength(1);
    }
    if (redeploy) expect(r.body.deployments.find((x: { id: string }) => x.id === redeploy.deploymentId).status).toBe('canceled');
    expect((await call('DELETE', `/apps/${d.appId}`, { token: alice.accessToken })).status).toBe(200);
  }

  it('in several orders: every answer 2xx or a documented 4xx, the app ends as the last call says', { timeout: 300_000 }, async () => {
    await round('a', ['stop', 'restart', 'delete']);
    await round('b', ['restart', 'delete', 'stop']);
    await round('c', ['delete', 'stop', 'restart']);
    await round('d', ['stop', 'restart']);
    await round('e', ['restart', 'stop']);
    await round('f', ['restart', 'stop', 'restart', 'stop']);
    await expectNoOrphans();
  });

  it('while a redeploy is running', { timeout: 300_000 }, async () => {
    await round('g', ['stop', 'restart', 'delete'], { duringRedeploy: true });
    await round('h', ['restart', 'stop'], { duringRedeploy: true });
    await round('i', ['delete', 'restart', 'stop'], { duringRedeploy: true });
    await round('j', ['stop', 'restart'], { duringRedeploy: true });
    await round('k', ['restart', 'delete'], { duringRedeploy: true });
    await expectNoOrphans();
  });
});

describe('stop during a redeploy', () => {
  it('answers stopped; the deployment ends canceled; the app stays stopped, 503, no container runs', { timeout: 120_000 }, async () => {
    const v1 = await deploy({ name: name('stopdep'), image: appImage, port: 8080, env: { VERSION: 's1' } });
    await succeeded(v1);
    const v2 = await deploy({ name: name('stopdep'), image: slowImage, port: 8080 });
    await settle(v2, ['deploying']);
    await until('v2 container to exist', async () => (await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).length > 0, { timeoutMs: 20_000 });

    const stop = await call('POST', `/apps/${v1.appId}/stop`, { token: alice.accessToken });
    expect(stop.status, stop.raw).toBe(200);
    expect(stop.body.app.status).toBe('stopped');
    const { deployment } = await settle(v2);
    expect(deployment.status).toBe('canceled');

    await h.worker.idle();
    await h.services.reconciler.pass();
    const r = await appOf(v1.appId);
    expect(r.body.app.status).toBe('stopped');
    expect(r.body.app.currentDeploymentId).toBe(v1.deploymentId);
    expect((await viaIngress(v1.domain)).status).toBe(503);
    expect(await containersOf(v1.appId, false)).toEqual([]);
    expect(await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).toEqual([]);
    expect((await call('DELETE', `/apps/${v1.appId}`, { token: alice.accessToken })).status).toBe(200);
  });
});

describe('superseded while followed', () => {
  it('a queued deployment superseded while its log stream is open: the stream ends with canceled and closes 1000', { timeout: 120_000 }, async () => {
    const app = name('super');
    // A slow deployment holds the app's queue (deploying for 8 s); the next one waits queued behind it.
    const hold = await deploy({ name: app, image: slowImage, port: 8080 });
    await settle(hold, ['deploying']);
    const mid = await deploy({ name: app, image: appImage, port: 8080, env: { VERSION: 'mid' } });
    expect((await settle(mid, ['queued', ...FINAL])).deployment.status).toBe('queued');

    const ws = new WebSocket(`ws://127.0.0.1:${await listenPort()}/apps/${mid.appId}/deployments/${mid.deploymentId}/logs/stream?token=${alice.accessToken}`);
    const msgs: { type: string; deployment?: { status: string; error: string | null } }[] = [];
    ws.on('message', (m) => msgs.push(JSON.parse(String(m))));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

    const last = await deploy({ name: app, image: appImage, port: 8080, env: { VERSION: 'last' } });
    const end = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    expect(end, 'the stream did not end within 15 s of the supersede').not.toBeNull();
    expect(end!.code).toBe(1000);
    expect(msgs.at(-1)).toMatchObject({ type: 'status', deployment: { status: 'canceled', error: expect.stringMatching(/superseded/) } });

    expect((await call('POST', `/apps/${hold.appId}/deployments/${hold.deploymentId}/cancel`, { token: alice.accessToken })).status).toBe(200);
    await succeeded(last);
    expect((await viaIngress(last.domain)).body).toMatch(/^version=last /);
    expect((await call('DELETE', `/apps/${last.appId}`, { token: alice.accessToken })).status).toBe(200);
  });
});

describe('a burst of redeploys', () => {
  it('10 redeploys within 200 ms: the last succeeds and serves, every other ends canceled or succeeded', { timeout: 180_000 }, async () => {
    const app = name('burst');
    const first = await deploy({ name: app, image: appImage, port: 8080, env: { VERSION: 'b0' } });
    await succeeded(first);

    // Sent 15 ms apart without waiting for the answers: all ten are out within 200 ms.
    const t0 = Date.now();
    const sent: number[] = [];
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        new Promise((r) => setTimeout(r, i * 15)).then(() => {
          sent.push(Date.now() - t0);
          return call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: appImage, port: 8080, env: { VERSION: `b${i + 1}` } } });
        }),
      ),
    );
    console.log(`[faults] burst: 10 redeploys sent at ${sent.join(', ')} ms, all answered after ${Date.now() - t0} ms`);
    expect(Math.max(...sent)).toBeLessThan(200);
    answers.forEach((r, i) => expect(r.status, `redeploy b${i + 1}: ${r.raw}`).toBe(202));
    const versionOf = new Map(answers.map((r, i) => [r.body.deploymentId as string, `b${i + 1}`]));
    const ids = [...versionOf.keys()];
    await h.worker.idle(120_000);
    const r = await appOf(first.appId);
    type Dep = { id: string; status: string; error: string | null; createdAt: string };
    const ours = (r.body.deployments as Dep[]).filter((x) => versionOf.has(x.id));
    expect(ours).toHaveLength(10);
    // The last one is the one queued last: the newest (of two queued in the same millisecond, the later superseded
    // the earlier, so it is the one not canceled).
    const newest = ours.filter((x) => x.createdAt === ours.map((y) => y.createdAt).sort().at(-1));
    const last = newest.find((x) => x.status !== 'canceled') ?? newest[0]!;
    const lastId = last.id;
    expect(last.status, last.error ?? '').toBe('succeeded');
    expect(r.body.app.currentDeploymentId).toBe(lastId);
    expect(r.body.app.status).toBe('running');
    const byId = new Map<string, { status: string; error: string | null }>(r.body.deployments.map((x: { id: string; status: string; error: string | null }) => [x.id, x]));
    const others = ids.filter((id) => id !== lastId).map((id) => byId.get(id)?.status);
    console.log(`[faults] burst: ${others.join(', ')}, last ${byId.get(lastId)?.status}`);
    for (const s of others) expect(['canceled', 'succeeded']).toContain(s);
    expect((await viaIngress(first.domain)).body).toMatch(new RegExp(`^version=${versionOf.get(lastId)} `));
    await h.services.reconciler.pass();
    const cs = await containersOf(first.appId);
    expect(cs.map((c) => c.labels[LABELS.deployment])).toEqual([lastId]);
    expect((await call('DELETE', `/apps/${first.appId}`, { token: alice.accessToken })).status).toBe(200);
  });
});

let listening: number | undefined;
async function listenPort(): Promise<number> {
  if (!listening) {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    listening = (h.app.server.address() as import('node:net').AddressInfo).port;
  }
  return listening;
}
