// The cluster every Swarm test stands on, checked end to end on real engines: three dockerd in their own network
// namespaces form a swarm, an image built on the manager travels through the registry to the workers, a service's
// host-mode ports answer from the host, overlay traffic crosses nodes, and a killed worker's tasks move.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Dockerode from 'dockerode';
import { request } from 'node:http';
import { createDockerodeDriver, type DockerDriver } from '../src/index.js';
import { buildBusybox, runLabels, uniqueName } from './helpers/engine.js';
import { startSwarmCluster, type SwarmCluster } from './helpers/swarmCluster.js';

let cluster: SwarmCluster;
let managerDriver: DockerDriver;
const labels = runLabels();

interface Task {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; PortStatus?: { Ports?: { TargetPort?: number; PublishedPort?: number; PublishMode?: string }[] } };
  NetworksAttachments?: { Network: { ID: string }; Addresses?: string[] }[];
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Pushes a local image and returns the digest the registry answered. */
async function push(docker: Dockerode, ref: string, registry: string): Promise<string> {
  const stream = await docker.getImage(ref).push({ authconfig: { serveraddress: registry } });
  const events = await new Promise<{ error?: string; aux?: { Digest?: string } }[]>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string; aux?: { Digest?: string } }[]) => (err ? reject(err) : resolve(out))),
  );
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(`push ${ref}: ${failed.error}`);
  const digest = events.find((e) => e.aux?.Digest)?.aux?.Digest;
  if (!digest) throw new Error(`push ${ref}: no digest in the answer`);
  return digest;
}

async function runningTasks(docker: Dockerode, service: string): Promise<Task[]> {
  const tasks = (await docker.listTasks({ filters: JSON.stringify({ service: [service], 'desired-state': ['running'] }) })) as Task[];
  return tasks.filter((t) => t.Status.State === 'running');
}

function publishedPort(t: Task): number {
  const p = t.Status.PortStatus?.Ports?.find((x) => x.TargetPort === 8080)?.PublishedPort;
  if (!p) throw new Error(`task ${t.ID} has no published port`);
  return p;
}

beforeAll(async () => {
  cluster = await startSwarmCluster({ nodes: 3 });
  managerDriver = createDockerodeDriver({ docker: cluster.docker(0) });
});

afterAll(async () => {
  await managerDriver?.close();
  await cluster?.close();
});

describe('a Swarm cluster of three engines on one machine', () => {
  it('has one manager and two workers, Ready, each advertising its own address', async () => {
    const nodes = (await cluster.docker(0).listNodes()) as {
      Spec: { Role: string };
      Description: { Hostname: string };
      Status: { State: string; Addr: string };
    }[];
    const seen = nodes.map((n) => ({ host: n.Description.Hostname, role: n.Spec.Role, state: n.Status.State, addr: n.Status.Addr })).sort((a, b) => a.host.localeCompare(b.host));
    expect(seen).toEqual(cluster.nodes.map((n) => ({ host: n.name, role: n.role, state: 'ready', addr: n.addr })));
    expect(cluster.startupMs).toBeLessThan(40_000);
    // Each engine is its own: its own id and data root, none the host engine's.
    const infos = await Promise.all(cluster.nodes.map((_, i) => cluster.docker(i).info() as Promise<{ ID: string; DockerRootDir: string }>));
    expect(new Set(infos.map((i) => i.ID)).size).toBe(3);
    expect(infos.map((i) => i.DockerRootDir)).toEqual(cluster.nodes.map((n) => n.dataRoot));
  });

  it('runs a pushed image by digest on several nodes, serves each task on a dynamic host-mode port, and moves a killed worker\'s tasks', async () => {
    const manager = cluster.docker(0);
    const tag = await buildBusybox(managerDriver, labels, 'RUN mkdir -p /www && echo ok > /www/index.html\n');
    const repo = `${cluster.registry}/cynchro-test/bb`;
    await manager.getImage(tag).tag({ repo, tag: 'v1' });
    const digest = await push(manager, `${repo}:v1`, cluster.registry);
    const image = `${repo}@${digest}`;

    const netName = uniqueName('cynchro-test-ov');
    const net = await manager.createNetwork({ Name: netName, Driver: 'overlay', Attachable: true, Labels: labels });
    const service = uniqueName('cynchro-test-web');
    await manager.createService({
      Name: service,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: { Image: image, Command: ['httpd', '-f', '-p', '8080', '-h', '/www'], Labels: labels },
        Networks: [{ Target: net.id }],
        RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
      },
      Mode: { Replicated: { Replicas: 3 } },
      // No PublishedPort: each task gets a port of its node's choosing.
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' }] },
    } as Dockerode.CreateServiceOptions);

    const nodeAddr = new Map(((await manager.listNodes()) as { ID: string; Status: { Addr: string } }[]).map((n) => [n.ID, n.Status.Addr]));
    const first = await until('3 running tasks', 90_000, async () => {
      const t = await runningTasks(manager, service);
      return t.length === 3 ? t : undefined;
    });
    expect(new Set(first.map((t) => t.NodeID)).size).toBeGreaterThanOrEqual(2);
    for (const t of first) {
      const r = await get(`http://${nodeAddr.get(t.NodeID)}:${publishedPort(t)}/`);
      expect(r).toEqual({ status: 200, body: 'ok\n' });
    }
    console.log(`tasks on ${new Set(first.map((t) => t.NodeID)).size} nodes, ports ${first.map((t) => `${nodeAddr.get(t.NodeID)}:${publishedPort(t)}`).join(' ')}`);

    // Overlay traffic between nodes: from a container on the manager to a task's overlay address on a worker.
    const managerId = [...nodeAddr].find(([, a]) => a === cluster.nodes[0]?.addr)?.[0];
    const remote = first.find((t) => t.NodeID !== managerId) as Task;
    const overlayIp = remote.NetworksAttachments?.find((a) => a.Network.ID === net.id)?.Addresses?.[0]?.split('/')[0];
    expect(overlayIp).toBeTruthy();
    const probe = await manager.createContainer({
      Image: image,
      // No `-T`: Debian's busybox 1.35 wget dies of SIGSEGV with a timeout set (on the host engine too).
      Cmd: ['wget', '-qO-', `http://${overlayIp}:8080/`],
      Labels: labels,
      HostConfig: { NetworkMode: netName },
    });
    await probe.start();
    const exit = (await probe.wait()) as { StatusCode: number };
    const out = (await probe.logs({ stdout: true, stderr: true })).toString('utf8');
    await probe.remove({ force: true });
    expect({ code: exit.StatusCode, out: out.includes('ok') }).toEqual({ code: 0, out: true });

    // A worker dies with its engine: its tasks come back on the remaining nodes.
    const victimIndex = cluster.nodes.findIndex((n, i) => i > 0 && first.some((t) => nodeAddr.get(t.NodeID) === n.addr));
    expect(victimIndex).toBeGreaterThan(0);
    const victim = cluster.nodes[victimIndex]!;
    const victimId = [...nodeAddr].find(([, a]) => a === victim.addr)?.[0];
    const lost = first.filter((t) => t.NodeID === victimId);
    const killedAt = Date.now();
    await cluster.stopNode(victimIndex);
    await expect(get(`http://${victim.addr}:${publishedPort(lost[0]!)}/`)).rejects.toThrow();
    const moved = await until('3 running tasks off the killed node', 120_000, async () => {
      const t = await runningTasks(manager, service);
      return t.length === 3 && t.every((x) => x.NodeID !== victimId) ? t : undefined;
    });
    const failoverMs = Date.now() - killedAt;
    console.log(`failover: ${lost.length} task(s) of ${victim.name} running elsewhere ${(failoverMs / 1000).toFixed(1)} s after its engine was killed`);
    for (const t of moved) expect((await get(`http://${nodeAddr.get(t.NodeID)}:${publishedPort(t)}/`)).status).toBe(200);

    // The node comes back and rejoins by itself.
    await cluster.startNode(victimIndex);
    const back = (await manager.listNodes()) as { ID: string; Status: { State: string } }[];
    expect(back.find((n) => n.ID === victimId)?.Status.State).toBe('ready');

    await manager.getService(service).remove();
    await manager.getNetwork(net.id).remove().catch(() => undefined);
  }, 240_000);
});
