// RUNTIME=swarm on a real three-node cluster on this machine (three dockerd, each in its own network namespace,
// a registry on the test bridge): replicas spread over nodes and served through the ingress at each task's node
// port, a repo app built, pushed and run by digest on a worker with its secret file there, a rollout with zero
// failed requests, a failing health check keeping the old release, a drained node and a dead worker engine, and
// the live log stream of a task on a worker.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDockerodeDriver, createSwarmDriver, LABELS, type DockerDriver, type SwarmDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startGitHttpServer, startSwarmCluster, type GitHttpServer, type SwarmCluster } from '@cynchro/docker-driver/testing';
import { startHarness, type Harness } from './harness.js';
import { get } from './http-get.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia, until } from './wait.js';

let cluster: SwarmCluster;
let manager: ReturnType<SwarmCluster['docker']>;
let docker: DockerDriver;
let swarm: SwarmDriver;
let h: Harness;
let git: GitHttpServer;
let alice: TestUser;
let webImage: string;
let deadImage: string;
let proxyImage: string;
let masterKey: string;
let base: string;
const TOKEN = `ghp_${randomBytes(18).toString('hex')}`;
const testImages = imageLabels();
const suffix = randomBytes(3).toString('hex');
const { call, register, operator, unseal } = client(() => h);

// Serves $VERSION at / (and a /healthz), prints a line at start and one per second after.
const WEB = `RUN ["/bin/mkdir","-p","/www"]
STOPSIGNAL SIGKILL
CMD ["sh","-c","echo \\"version=$VERSION\\" > /www/index.html; echo ok > /www/healthz; echo \\"started $VERSION on $(hostname)\\"; httpd -p 8080 -h /www; while true; do echo \\"tick $VERSION\\"; sleep 1; done"]`;
// Serves what its sibling `api` answers (fetched by name over the app's overlay, once api is healthy).
const PROXY = `RUN ["/bin/mkdir","-p","/www"]
STOPSIGNAL SIGKILL
CMD ["sh","-c","until wget -q -O /www/index.html http://api:8080/; do sleep 1; done; exec httpd -f -p 8080 -h /www"]`;
const DEAD = `CMD ["sh","-c","echo never listening; sleep 600"]`;

const settle = (appId: string, deploymentId: string) => settleVia(call, appId, deploymentId, alice.accessToken, { timeoutMs: 180_000, everyMs: 200 });
const viaIngress = (domain: string, path = '/') => get(h.config.ingressPort, domain, path, { timeoutMs: 3000 });

async function deploy(body: Record<string, unknown>) {
  const r = await call('POST', '/deploy', { token: alice.accessToken, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body as { appId: string; deploymentId: string; domain: string };
}

/** Pushes a local image of the manager to the cluster's registry; answers `registry/repo:tag`. */
async function pushToRegistry(local: string, repo: string, tag: string): Promise<string> {
  const full = `${cluster.registry}/${repo}`;
  await swarm.pushImage(local, full, tag);
  return `${full}:${tag}`;
}

/** GETs the domain every 20 ms until stopped; counts what did not answer 200. */
function poll(domain: string) {
  const seen = { ok: 0, failed: 0, bodies: new Set<string>(), errors: [] as string[] };
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const r = await viaIngress(domain);
        if (r.status === 200) {
          seen.ok++;
          seen.bodies.add(r.body.trim());
        } else {
          seen.failed++;
          seen.errors.push(String(r.status));
        }
      } catch (e) {
        seen.failed++;
        seen.errors.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await done;
      return seen;
    },
  };
}

/** Which node (hostname) runs each running task of the app's current release. */
async function placement(appId: string): Promise<{ task: string; node: string; slot: number; containerId?: string }[]> {
  const services = await swarm.listServices({ [LABELS.app]: appId });
  const tasks = await swarm.listTasks(services.map((s) => s.id));
  const nodes = new Map((await swarm.listNodes()).map((n) => [n.id, n.hostname]));
  return tasks.filter((t) => t.state === 'running' && t.desiredState === 'running').map((t) => ({ task: t.id, node: nodes.get(t.nodeId) ?? t.nodeId, slot: t.slot, ...(t.containerId ? { containerId: t.containerId } : {}) }));
}

/** Runs a command in a container on node i's engine. */
async function execOn(i: number, containerId: string, cmd: string[]): Promise<string> {
  const e = await cluster.docker(i).getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const sink = { write: (c: Buffer) => chunks.push(c) } as unknown as NodeJS.WritableStream;
    cluster.docker(i).modem.demuxStream(stream, sink, sink);
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  return Buffer.concat(chunks).toString('utf8');
}

const nodeIndex = (hostname: string) => cluster.nodes.findIndex((n) => n.name === hostname);

beforeAll(async () => {
  cluster = await startSwarmCluster({ nodes: 3, heartbeatSeconds: 2 });
  manager = cluster.docker(0);
  git = await startGitHttpServer({ token: TOKEN });
  docker = createDockerodeDriver({ docker: manager, gitAllowHosts: [git.host] });
  swarm = createSwarmDriver({ docker: manager });
  const [web, dead, proxy] = await Promise.all([buildBusybox(docker, testImages, WEB), buildBusybox(docker, testImages, DEAD), buildBusybox(docker, testImages, PROXY)]);
  base = await buildBusybox(docker, testImages);
  webImage = await pushToRegistry(web, 'test/web', suffix);
  deadImage = await pushToRegistry(dead, 'test/dead', suffix);
  proxyImage = await pushToRegistry(proxy, 'test/proxy', suffix);
  h = await startHarness(
    { ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test', RUNTIME: 'swarm', REGISTRY: cluster.registry, SWARM_POLL_MS: '300', SWARM_OVERLAY_MTU: '1450', GIT_ALLOW_HOSTS: git.host },
    { docker, swarm, worker: { timeouts: { healthMs: 10_000, startMs: 10_000 } } },
  );
  alice = await register();
  masterKey = newMasterKey();
  await unseal(await operator(), masterKey);
}, 240_000);

afterAll(async () => {
  if (h && alice) {
    const apps = (await call('GET', '/apps', { token: alice.accessToken })).body?.apps ?? [];
    for (const a of apps) await call('DELETE', `/apps/${a.id}`, { token: alice.accessToken });
  }
  await h?.close();
  await git?.close();
  await docker?.close();
  await cluster?.close();
}, 180_000);

describe('RUNTIME=swarm on a three-node cluster', () => {
  let appId: string;
  let domain: string;

  it('GET /admin/nodes lists the three nodes, one manager', async () => {
    const r = await call('GET', '/admin/nodes', { token: (await operator()).accessToken });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const nodes = r.body.nodes as { hostname: string; role: string; state: string; availability: string; cpus: number; memoryMb: number }[];
    expect(nodes.map((n) => n.hostname).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    expect(nodes.filter((n) => n.role === 'manager')).toHaveLength(1);
    for (const n of nodes) expect(n).toMatchObject({ state: 'ready', availability: 'active' });
    expect(nodes.every((n) => n.cpus > 0 && n.memoryMb > 0)).toBe(true);
  });

  it('an image app with three replicas runs on at least two nodes, served through the ingress', async () => {
    const d = await deploy({ name: `web-${suffix}`, image: webImage, port: 8080, replicas: 3, env: { VERSION: 'v1' } });
    ({ appId, domain } = d);
    const { deployment } = await settle(d.appId, d.deploymentId);
    expect(deployment, JSON.stringify(deployment)).toMatchObject({ status: 'succeeded' });
    const where = await placement(appId);
    console.log(`replicas on: ${where.map((w) => w.node).join(', ')}`);
    expect(where).toHaveLength(3);
    expect(new Set(where.map((w) => w.node)).size).toBeGreaterThanOrEqual(2);
    // The image ran by digest, from the registry.
    const [svc] = await swarm.listServices({ [LABELS.app]: appId });
    expect(JSON.stringify(svc!.spec)).toMatch(new RegExp(`${cluster.registry.replace(/\./g, '\\.')}/test/web@sha256:[0-9a-f]{64}`));
    for (let i = 0; i < 6; i++) expect(await viaIngress(domain)).toEqual({ status: 200, body: 'version=v1\n' });
    // The app's own attachable overlay, with the MTU SWARM_OVERLAY_MTU asked for.
    const net = (await manager.getNetwork(`cynchro-${appId}`).inspect()) as { Driver: string; Attachable: boolean; Options?: Record<string, string>; Labels?: Record<string, string> };
    expect(net).toMatchObject({ Driver: 'overlay', Attachable: true, Options: { 'com.docker.network.driver.mtu': '1450' } });
    expect(net.Labels?.[LABELS.app]).toBe(appId);
    const app = (await call('GET', `/apps/${appId}`, { token: alice.accessToken })).body.app;
    expect(app.status).toBe('running');
  }, 240_000);

  it('a rollout to v2 with zero failed requests', async () => {
    const p = poll(domain);
    await until('some polls', () => p.seen.ok > 5, { timeoutMs: 10_000 });
    const d = await deploy({ name: `web-${suffix}`, image: webImage, port: 8080, replicas: 3, env: { VERSION: 'v2' } });
    const { deployment } = await settle(d.appId, d.deploymentId);
    expect(deployment.status).toBe('succeeded');
    await until('v2 served', async () => (await viaIngress(domain)).body === 'version=v2\n', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 2500)); // past the drain of the old release
    const seen = await p.stop();
    console.log(`rollout: ${seen.ok} ok, ${seen.failed} failed`);
    expect(seen.failed, seen.errors.slice(0, 5).join('; ')).toBe(0);
    expect([...seen.bodies].sort()).toEqual(['version=v1', 'version=v2']);
    // The old release's services are gone.
    const services = await swarm.listServices({ [LABELS.app]: appId });
    expect(services.map((s) => s.labels[LABELS.deployment])).toEqual([d.deploymentId]);
  }, 240_000);

  it('a release that never answers fails and the old one keeps serving', async () => {
    const p = poll(domain);
    const d = await deploy({ name: `web-${suffix}`, image: deadImage, port: 8080, replicas: 3 });
    const { deployment } = await settle(d.appId, d.deploymentId);
    const seen = await p.stop();
    expect(deployment.status).toBe('failed');
    expect(deployment.error).toMatch(/answered within|replica/);
    console.log(`failed rollout: ${seen.ok} ok, ${seen.failed} failed`);
    expect(seen.failed).toBe(0);
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'version=v2\n' });
    expect((await swarm.listServices({ [LABELS.deployment]: d.deploymentId })).length).toBe(0);
  }, 240_000);

  it('the live log stream shows lines of a task on a worker, tagged by replica', async () => {
    const where = await placement(appId);
    const onWorker = where.find((w) => nodeIndex(w.node) > 0);
    expect(onWorker, JSON.stringify(where)).toBeDefined();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const ws = new WebSocket(`ws://127.0.0.1:${(h.app.server.address() as { port: number }).port}/apps/${appId}/logs/stream?token=${alice.accessToken}&tail=5`);
    const lines: { replica: number; text: string }[] = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m)) as { type: string; replica: number; text: string };
      if (msg.type === 'log') lines.push(msg);
    });
    try {
      // Lines of each task arrive on their own follower: wait for the worker's and for a second replica's.
      await until('a tick from the worker task and lines of another replica', () => lines.some((l) => l.replica === onWorker!.slot && l.text.startsWith('tick v2')) && new Set(lines.map((l) => l.replica)).size >= 2, { timeoutMs: 20_000 });
    } finally {
      ws.close();
    }
    expect(new Set(lines.map((l) => l.replica)).size).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('while the vault is sealed, running tasks keep running and serving', async () => {
    const admin = await operator();
    const before = (await placement(appId)).map((w) => w.task).sort();
    expect((await call('POST', '/admin/seal', { token: admin.accessToken })).status).toBe(200);
    try {
      const p = poll(domain);
      await new Promise((r) => setTimeout(r, 3000));
      const seen = await p.stop();
      expect(seen.failed).toBe(0);
      expect(seen.ok).toBeGreaterThan(20);
      expect((await placement(appId)).map((w) => w.task).sort()).toEqual(before);
    } finally {
      expect((await unseal(admin, masterKey)).status).toBe(200);
    }
  }, 60_000);

  it("sibling services reach each other by name on the app's overlay, on any node", async () => {
    const d = await deploy({
      name: `pair-${suffix}`,
      services: [
        { name: 'api', image: webImage, port: 8080, env: { VERSION: 'from-api' }, replicas: 2 },
        { name: 'web', image: proxyImage, port: 8080, dependsOn: ['api'] },
      ],
    });
    const { deployment } = await settle(d.appId, d.deploymentId);
    expect(deployment, JSON.stringify(deployment)).toMatchObject({ status: 'succeeded' });
    // The first routed service (api) holds the app's domain; web is web-<app>.
    const webDomain = `web-${d.domain}`;
    expect(await viaIngress(webDomain)).toEqual({ status: 200, body: 'version=from-api\n' });
    console.log(`pair on: ${(await placement(d.appId)).map((w) => w.node).join(', ')}`);
    await call('DELETE', `/apps/${d.appId}`, { token: alice.accessToken });
  }, 180_000);

  it('a service with volumes is pinned to the node that holds them, release after release', async () => {
    const body = (version: string) => ({ name: `vol-${suffix}`, services: [{ name: 'app', image: webImage, port: 8080, replicas: 2, env: { VERSION: version }, volumes: [{ name: 'data', path: '/data' }] }] });
    const d1 = await deploy(body('vol'));
    expect((await settle(d1.appId, d1.deploymentId)).deployment.status).toBe('succeeded');
    const first = new Set((await placement(d1.appId)).map((w) => w.node));
    expect(first.size).toBe(1);
    const [svc] = await swarm.listServices({ [LABELS.app]: d1.appId });
    expect(JSON.stringify(svc!.spec)).toMatch(/"Constraints":\["node\.id==[a-z0-9]+"\]/);
    const d2 = await deploy(body('vol2'));
    expect((await settle(d2.appId, d2.deploymentId)).deployment.status).toBe('succeeded');
    expect(new Set((await placement(d1.appId)).map((w) => w.node))).toEqual(first);
    expect(await viaIngress(d1.domain)).toEqual({ status: 200, body: 'version=vol2\n' });
    await call('DELETE', `/apps/${d1.appId}`, { token: alice.accessToken });
  }, 180_000);

  it("killing a worker's engine: the app recovers on the remaining nodes", async () => {
    const where = await placement(appId);
    const victimIndex = Math.max(...where.map((w) => nodeIndex(w.node)));
    expect(victimIndex, JSON.stringify(where)).toBeGreaterThan(0);
    const victim = cluster.nodes[victimIndex]!.name;
    const p = poll(domain);
    const t0 = Date.now();
    await cluster.stopNode(victimIndex);
    try {
      await until(
        'three healthy replicas on the live nodes',
        async () => {
          const now = await placement(appId);
          const app = (await call('GET', `/apps/${appId}`, { token: alice.accessToken })).body.app;
          return now.filter((w) => w.node !== victim).length >= 3 && app.status === 'running';
        },
        { timeoutMs: 120_000, everyMs: 500 },
      );
      const recovered = Date.now() - t0;
      await until('the ingress serves', async () => (await viaIngress(domain)).status === 200, { timeoutMs: 10_000 });
      const seen = await p.stop();
      console.log(`worker ${victim} killed: three replicas on the live nodes after ${recovered} ms; ${seen.ok} ok, ${seen.failed} failed during it (${[...new Set(seen.errors)].join(', ')})`);
      for (let i = 0; i < 6; i++) expect((await viaIngress(domain)).status).toBe(200);
    } finally {
      await p.stop();
      await cluster.startNode(victimIndex);
    }
  }, 240_000);

  it('draining a node moves its tasks and the app keeps serving', async () => {
    const where = await placement(appId);
    const drained = where.find((w) => nodeIndex(w.node) > 0)!.node;
    const nodeId = (await swarm.listNodes()).find((n) => n.hostname === drained)!.id;
    const p = poll(domain);
    const t0 = Date.now();
    const node = manager.getNode(nodeId);
    const info = (await node.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
    await node.update({ version: info.Version.Index, ...info.Spec, Availability: 'drain' });
    try {
      await until(
        'three healthy replicas off the drained node',
        async () => {
          const now = await placement(appId);
          const app = (await call('GET', `/apps/${appId}`, { token: alice.accessToken })).body.app;
          return now.length === 3 && now.every((w) => w.node !== drained) && app.status === 'running';
        },
        { timeoutMs: 90_000, everyMs: 500 },
      );
      const moved = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 1000));
      const seen = await p.stop();
      console.log(`drain of ${drained}: tasks moved in ${moved} ms; ${seen.ok} ok, ${seen.failed} failed (${[...new Set(seen.errors)].join(', ')})`);
      for (let i = 0; i < 6; i++) expect((await viaIngress(domain)).status).toBe(200);
    } finally {
      const again = (await node.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      await node.update({ version: again.Version.Index, ...again.Spec, Availability: 'active' });
    }
  }, 180_000);

  it('a repo app is built, pushed, run by digest on a worker, with its secret file on the worker task', async () => {
    const c1 = git.createRepo(`site-${suffix}`, {
      Dockerfile: `FROM ${base}\nCOPY www /www\nSTOPSIGNAL SIGKILL\nCMD ["httpd","-f","-p","8080","-h","/www"]\n`,
      'www/index.html': 'from the repo\n',
    }, { branch: 'main', private: true });
    await call('POST', '/secrets', { token: alice.accessToken, body: { name: `files-${suffix}`, data: { API_KEY: 'k3y-on-a-worker' } } });
    const d = await deploy({ name: `site-${suffix}`, repo: `${git.baseUrl}/site-${suffix}.git`, branch: 'main', repoToken: TOKEN, port: 8080, replicas: 3, secretFiles: [`files-${suffix}`] });
    const { deployment } = await settle(d.appId, d.deploymentId);
    expect(deployment, JSON.stringify(deployment)).toMatchObject({ status: 'succeeded', commitSha: c1 });
    expect(await viaIngress(d.domain)).toEqual({ status: 200, body: 'from the repo\n' });
    const [svc] = await swarm.listServices({ [LABELS.app]: d.appId });
    expect(JSON.stringify(svc!.spec)).toMatch(new RegExp(`${cluster.registry.replace(/\./g, '\\.')}/cynchro/[a-z0-9-]+@sha256:[0-9a-f]{64}`));
    const where = await placement(d.appId);
    const onWorker = where.find((w) => nodeIndex(w.node) > 0);
    expect(onWorker, JSON.stringify(where)).toBeDefined();
    const out = await execOn(nodeIndex(onWorker!.node), onWorker!.containerId!, ['sh', '-c', 'cat /run/secrets/API_KEY; echo; stat -c %a /run/secrets/API_KEY']);
    expect(out.trim().split('\n')).toEqual(['k3y-on-a-worker', '400']);
  }, 300_000);
});

