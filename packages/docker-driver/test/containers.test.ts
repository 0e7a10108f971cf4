// What only the real engine can show: limits as the kernel sees them, where secret bytes live, DNS between
// services, and calls that never come back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Dockerode from 'dockerode';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerodeDriver, DEFAULT_PIDS_LIMIT, LABELS, type ContainerSpec, type DockerDriver } from '../src/index.js';
import { buildBusybox, busyboxDir, docker, exec, findOnDockerDisk, runLabels, uniqueName } from './helpers/engine.js';
import { failure } from './helpers/failure.js';
import { watchEvents } from './helpers/watchEvents.js';

const labels = runLabels();
let driver: DockerDriver;
let image: string;
let userImage: string;

const SERVE = 'trap "exit 0" TERM; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www';

function spec(over: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name: uniqueName('cyn-c'), image, command: ['sh', '-c', SERVE], port: 8080, labels: { ...labels, [LABELS.app]: 'c' }, ...over };
}

beforeAll(async () => {
  driver = createDockerodeDriver();
  image = await buildBusybox(driver, labels);
  // An image whose app runs as an unprivileged named user, as many real images do.
  userImage = await buildBusybox(
    driver,
    labels,
    'RUN ["/bin/sh","-c","mkdir -p /etc && echo root:x:0:0::/root:/bin/sh > /etc/passwd && echo app:x:1234:4321::/home/app:/bin/sh >> /etc/passwd && echo app:x:4321: > /etc/group && mkdir -p /www && chown 1234:4321 /www"]\nUSER app\n',
  );
});

afterAll(async () => {
  await driver?.removeByLabels(labels);
  await driver?.close();
});

describe('containers on the real engine', () => {
  it('applies env, limits, labels, restart policy, no-new-privileges and a 127.0.0.1-only port', async () => {
    const c = await driver.runContainer(spec({ env: { GREETING: 'hello world' }, cpu: 0.5, memoryMb: 64, pidsLimit: 100 }));
    const info = await docker.getContainer(c.id).inspect();
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.PidsLimit).toBe(100);
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    expect(info.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(info.NetworkSettings.Ports['8080/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(c.hostPort) }]);
    expect(info.Config.Labels).toMatchObject(labels);
    expect((await exec(c.id, ['sh', '-c', 'echo "$GREETING"'])).out.trim()).toBe('hello world');
    expect((await exec(c.id, ['sh', '-c', 'grep NoNewPrivs /proc/self/status'])).out).toMatch(/NoNewPrivs:\s+1/);
    const mem = await exec(c.id, ['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max']);
    expect(mem.out.trim()).toBe(String(64 * 1024 * 1024));
    const d = await driver.runContainer(spec());
    expect((await docker.getContainer(d.id).inspect()).HostConfig.PidsLimit).toBe(DEFAULT_PIDS_LIMIT);
  });

  it('puts secret files in memory at /run/secrets, 0400, readable by the app, nowhere on disk', async () => {
    const secret = `S3CR3T-${randomBytes(16).toString('hex')}`;
    const c = await driver.runContainer(spec({ image: userImage, secretFiles: { API_TOKEN: secret, OTHER: 'x' } }));
    const seen = await exec(c.id, ['sh', '-c', 'id -u; stat -c "%a %u %g" /run/secrets/API_TOKEN; cat /run/secrets/API_TOKEN; echo; grep " /run/secrets " /proc/mounts']);
    const [uid, modeLine, content, mount] = seen.out.trim().split('\n');
    expect(uid).toBe('1234');
    expect(modeLine).toBe('400 1234 4321');
    expect(content).toBe(secret);
    expect(mount).toMatch(/^tmpfs \/run\/secrets tmpfs /);
    // The only copies under /var/lib/docker are in the tmpfs the daemon mounted (RAM), never on a disk filesystem.
    const hits = findOnDockerDisk(secret);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((h) => h.fs !== 'tmpfs')).toEqual([]);
    expect(JSON.stringify(await docker.getContainer(c.id).inspect())).not.toContain(secret);
    await driver.stopContainer(c.id, 2);
    expect(findOnDockerDisk(secret)).toEqual([]);
    await driver.startContainer(c.id);
    expect((await exec(c.id, ['cat', '/run/secrets/API_TOKEN'])).out).toBe(secret);
    await driver.removeContainer(c.id);
    expect(findOnDockerDisk(secret)).toEqual([]);
  });

  it('asks for secret files it does not hold instead of starting without them', async () => {
    // The creating driver goes away (as after a control-plane restart), so its restart watcher cannot re-deliver v1.
    const first = createDockerodeDriver();
    const c = await first.runContainer(spec({ secretFiles: { K: 'v1' } }));
    await first.stopContainer(c.id, 2);
    await first.close();
    const other = createDockerodeDriver();
    try {
      expect((await failure(other.startContainer(c.id))).code).toBe('not_found');
      expect((await failure(other.recreateContainer(c.id))).code).toBe('not_found');
      await other.startContainer(c.id, { secretFiles: { K: 'v2' } });
      expect((await exec(c.id, ['cat', '/run/secrets/K'])).out).toBe('v2');
    } finally {
      await other.close();
    }
  });

  it('lets services on one network reach each other by alias, never on a public port', async () => {
    const net = uniqueName('cyn-net');
    await driver.ensureNetwork(net, labels);
    const api = await driver.runContainer(spec({ network: net, aliases: ['api'] }));
    const web = await driver.runContainer(spec({ network: net, aliases: ['web'], port: undefined, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] }));
    await driver.waitHealthy(api.id, { path: '/', timeoutMs: 10_000 });
    const r = await exec(web.id, ['wget', '-q', '-O', '-', 'http://api:8080/']);
    expect(r.out.trim()).toBe('ok');
    expect(web.hostPort).toBeUndefined();
    const ports = (await docker.getContainer(api.id).inspect()).NetworkSettings.Ports['8080/tcp'] ?? [];
    expect(ports.every((p) => p.HostIp === '127.0.0.1')).toBe(true);
  });

  it('waits for a port-less container to be running, and says why an unhealthy one is not', async () => {
    const worker = await driver.runContainer(spec({ port: undefined, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] }));
    await driver.waitHealthy(worker.id, { timeoutMs: 5000 });
    const dying = await driver.runContainer(spec({ command: ['sh', '-c', 'exit 4'] }));
    const e = await failure(driver.waitHealthy(dying.id, { timeoutMs: 1500 }));
    expect(e.code).toBe('health_timeout');
    expect(e.message).toMatch(/restarting|exited|restarted \d+ times/);
    const notFound = await driver.runContainer(spec());
    const h = await failure(driver.waitHealthy(notFound.id, { path: '/missing', timeoutMs: 1000 }));
    expect(h.code).toBe('health_timeout');
    expect(h.message).toContain('404');
  });

  it('ends a plain follow when the container stops', async () => {
    const c = await driver.runContainer(spec({ command: ['sh', '-c', 'trap "exit 0" TERM; echo one; while true; do sleep 0.1; done'] }));
    const seen: string[] = [];
    const done = (async () => {
      for await (const l of driver.followLogs(c.id)) seen.push(l.text);
    })();
    await new Promise((r) => setTimeout(r, 300));
    await driver.stopContainer(c.id, 2);
    await done;
    expect(seen).toContain('one');
  });

  it('times out an engine call that never answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cynchro-hung-'));
    const socketPath = join(dir, 'docker.sock');
    // Accepts connections and never says a word, like a wedged daemon.
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => server.listen(socketPath, r));
    const hung = createDockerodeDriver({ docker: new Dockerode({ socketPath }), callTimeoutMs: 300 });
    try {
      const t0 = Date.now();
      const e = await failure(hung.ping());
      expect(e.code).toBe('timeout');
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((await failure(hung.listContainers(labels))).code).toBe('timeout');
      expect((await failure(hung.runContainer(spec()))).code).toBe('timeout');
    } finally {
      await hung.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('engine events of what happens behind the platform\'s back', () => {
  const actions = (evs: { action: string }[]) => evs.map((e) => e.action);

  it('docker kill: kill (9), die (137), and the restart policy leaves it exited; a start publishes the port again', async ({ annotate }) => {
    const w = watchEvents(driver, { labels, since: Date.now() });
    const c = await driver.runContainer(spec());
    await docker.getContainer(c.id).kill();
    const mine = await w.when(c.id, 'die');
    expect(actions(mine)).toEqual(['create', 'start', 'kill', 'die']);
    expect(mine[2]?.signal).toBe(9);
    expect(mine[3]?.exitCode).toBe(137);
    // The engine settles on restarting or not before it reports the die, so this inspect is the verdict.
    const killed = await driver.inspectContainer(c.id);
    expect(killed).toMatchObject({ state: 'exited', running: false, restarting: false, exitCode: 137, restartCount: 0 });
    expect(killed?.hostPort).toBeUndefined();
    await driver.startContainer(c.id);
    expect(actions(await w.when(c.id, 'start', 2))).toEqual(['create', 'start', 'kill', 'die', 'start']);
    const again = await driver.inspectContainer(c.id);
    expect(again).toMatchObject({ running: true, exitCode: 0 });
    expect(again?.hostPort).toEqual(expect.any(Number));
    await annotate(`docker kill + start: host port ${c.hostPort} → ${again?.hostPort}`);
    await w.stop();
  });

  it('docker restart: kill, die, stop, start, restart; the port is published again', async ({ annotate }) => {
    const w = watchEvents(driver, { labels, since: Date.now() });
    const c = await driver.runContainer(spec());
    // Serving (its SIGTERM trap set) and a generous grace period: a loaded engine must not escalate to SIGKILL.
    await driver.waitHealthy(c.id, { path: '/', timeoutMs: 20_000 });
    await docker.getContainer(c.id).restart({ t: 20 });
    const mine = await w.when(c.id, 'restart');
    expect(actions(mine)).toEqual(['create', 'start', 'kill', 'die', 'stop', 'start', 'restart']);
    const after = await driver.inspectContainer(c.id);
    expect(after).toMatchObject({ running: true, restartCount: 0 });
    expect(after?.hostPort).toEqual(expect.any(Number));
    await driver.waitHealthy(c.id, { path: '/', timeoutMs: 10_000 });
    await annotate(`docker restart: host port ${c.hostPort} → ${after?.hostPort}`);
    await w.stop();
  });

  it('docker rm -f: kill, die (137), destroy', async () => {
    const w = watchEvents(driver, { labels, since: Date.now() });
    const c = await driver.runContainer(spec());
    await docker.getContainer(c.id).remove({ force: true });
    const mine = await w.when(c.id, 'destroy');
    expect(actions(mine)).toEqual(['create', 'start', 'kill', 'die', 'destroy']);
    expect(mine[3]?.exitCode).toBe(137);
    expect(mine[4]?.labels).toMatchObject(labels);
    await w.stop();
  });

  it('leaves out a container without the managed label, and by default everything not managed=true', async () => {
    // Its own image: the engine merges an image's labels into its containers', and this run's image has ours.
    const tag = `cynchro-test-bb:${randomBytes(4).toString('hex')}`;
    const dir = busyboxDir();
    await driver.buildFromDirectory({ dir, tag, labels: { [LABELS.org]: labels[LABELS.org] } });
    rmSync(dir, { recursive: true, force: true });
    const w = watchEvents(driver, { labels, since: Date.now() });
    const byDefault = watchEvents(driver, { since: Date.now() });
    const created = await docker.createContainer({
      Image: tag,
      Cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'],
      Labels: { [LABELS.org]: labels[LABELS.org] },
      HostConfig: { Init: true },
    });
    try {
      await created.start();
      expect((await created.inspect()).Config.Labels?.[LABELS.managed]).toBeUndefined();
      const sentinel = await driver.runContainer(spec());
      await created.remove({ force: true });
      await driver.removeContainer(sentinel.id);
      // In order: once the sentinel's destroy is here, the other container's events would have been too.
      await w.when(sentinel.id, 'destroy');
      expect(w.of(created.id)).toEqual([]);
      await byDefault.stop();
      // This run's containers are managed=driver-test, so the default (managed=true) filter saw none of them.
      expect(byDefault.of(sentinel.id)).toEqual([]);
      expect(byDefault.of(created.id)).toEqual([]);
    } finally {
      await created.remove({ force: true }).catch(() => undefined);
      await driver.removeImage(tag);
      await w.stop();
    }
  });
});
