// A real multi-node Swarm cluster on one machine, for the tests and benchmarks that need more than one engine.
//
// Layout (everything named `cynsw<id>…`, so a later run can find and remove what a killed run left behind):
// - a Linux bridge `cynsw<id>` in the host namespace holding the host address `<net>.1/24`;
// - per node a network namespace `cynsw<id>-n<i>`, a veth pair (`cynsw<id>v<i>` on the bridge, `eth0` inside) with
//   the address `<net>.<i+1>`, and a dockerd started inside the namespace with data, exec root, socket, pid file,
//   config file and trust key under `/var/lib/cynchro-swarm/cynsw<id>/n<i>/`, managing its own containerd, in a
//   mount namespace (its own /sys and /run/containerd) and a UTS namespace (hostname `cynsw<id>-n<i>`) of its own;
// - Debian's `docker-registry` in the host namespace on `<net>.1:<port>`, trusted by every node as insecure.
// A dockerd must never run in the host's own namespace: it would rewrite the host engine's bridge networks.
import Dockerode from 'dockerode';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';

/** Where every cluster keeps its state; the directory name is the cluster id. */
export const SWARM_CLUSTER_BASE = '/var/lib/cynchro-swarm';
const PREFIX = 'cynsw';
/** Candidate /24s for the test bridge: the first two octets, the third picked at random among the free ones. */
const SUBNET_RANGES = ['10.213', '10.214'];

export interface SwarmClusterOptions {
  /** Number of engines, the first one the only manager. Default 3. */
  nodes?: number;
  /** 1–8 hex characters; the cluster's names become `cynsw<id>…`. Default: 4 random ones. */
  id?: string;
  /** Swarm's dispatcher heartbeat; a node is marked down about three periods after it dies. Default: Swarm's 5 s. */
  heartbeatSeconds?: number;
  /** Keeps the cluster when this process ends (the CLI's `up`); the next start does not treat it as stale. */
  detached?: boolean;
  /** Progress lines (startup time); default console.log. */
  log?: (line: string) => void;
}

export interface SwarmClusterNode {
  readonly index: number;
  /** `cynsw<id>-n<i>`: the namespace name, also the engine's hostname and the Swarm node's hostname. */
  readonly name: string;
  readonly netns: string;
  readonly role: 'manager' | 'worker';
  /** The node's address on the test bridge (Swarm's advertise address). */
  readonly addr: string;
  /** The engine's unix socket path, for `new Dockerode({ socketPath })`. */
  readonly socket: string;
  /** `unix://<socket>`, for `docker -H`. */
  readonly dockerHost: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  /** The node's directory: the engine's log is `dockerd.log` in it. */
  readonly dir: string;
  /** The running dockerd's pid (0 while stopped). */
  readonly pid: number;
}

export interface SwarmCluster {
  /** `cynsw<id>`: also the bridge's name and the state directory's name. */
  readonly id: string;
  readonly bridge: string;
  /** The bridge's /24, e.g. `10.213.7.0/24`. */
  readonly subnet: string;
  /** The host namespace's address on the bridge, e.g. `10.213.7.1`: reachable from every node. */
  readonly hostAddr: string;
  /** `hostAddr:port` of the plain-http registry every node trusts. */
  readonly registry: string;
  readonly nodes: readonly SwarmClusterNode[];
  readonly managerDockerHost: string;
  readonly managerSocket: string;
  /** How long start took, in ms. */
  readonly startupMs: number;
  /** A dockerode client for node i (default the manager). */
  docker(i?: number): Dockerode;
  /**
   * A dying machine: SIGKILL to node i's dockerd, its containerd, the shims and every container process. Its
   * address still answers (connection refused) unless `unplug`, which also takes its link down (packets vanish).
   */
  stopNode(i: number, opts?: { unplug?: boolean }): Promise<void>;
  /** Starts node i's dockerd again (link up; it rejoins the swarm by itself), waits until the manager sees it Ready. */
  startNode(i: number): Promise<void>;
  /** Removes everything: processes, namespaces, veths, bridge, the iptables rule, directories, registry. Idempotent. */
  close(): Promise<void>;
}

interface MutableNode extends SwarmClusterNode {
  pid: number;
}

interface Owner {
  pid: number;
  startTime: string;
  detached: boolean;
}

/** Runs a command (argv, no shell) and returns its stdout; rejects with its stderr. */
function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

async function tryRun(cmd: string, args: string[]): Promise<void> {
  await run(cmd, args).catch(() => undefined);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, onTimeout?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const extra = onTimeout?.() ?? '';
      throw new Error(`swarm cluster: timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}${extra ? `\n${extra}` : ''}`);
    }
    await sleep(150);
  }
}

// ---- processes -------------------------------------------------------------------------------------------------

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  startTime: string;
  cmdline: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return { pid, state: rest[0] ?? '', ppid: Number(rest[1]), startTime: rest[19] ?? '', cmdline };
  } catch {
    return undefined;
  }
}

function processTable(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readProc(Number(entry));
    if (p && p.state !== 'Z') out.push(p);
  }
  return out;
}

function isAlive(owner: Owner): boolean {
  const p = readProc(owner.pid);
  return p !== undefined && p.state !== 'Z' && p.startTime === owner.startTime;
}

/** The programs a cluster runs; only they are matched by path (a shell whose command line names the path is not). */
const OURS = new Set(['dockerd', 'containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'docker-registry', 'nsenter', 'unshare', 'ip']);

/**
 * SIGKILLs every process whose command line holds `needle` (dockerd, its containerd, the shims all name a path under
 * the node's directory) and all their descendants (docker-proxy, container processes), until none is left. Shims
 * re-parent to init, so the descendants are collected before anything dies.
 */
async function killByCmdline(needle: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const table = processTable();
    const children = new Map<number, number[]>();
    for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
    const doomed = new Set<number>();
    const queue = table.filter((p) => OURS.has(basename(p.cmdline.split(' ')[0] ?? '')) && p.cmdline.includes(needle)).map((p) => p.pid);
    while (queue.length > 0) {
      const pid = queue.pop() as number;
      if (doomed.has(pid) || pid === process.pid) continue;
      doomed.add(pid);
      queue.push(...(children.get(pid) ?? []));
    }
    if (doomed.size === 0) return;
    for (const pid of doomed) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await sleep(100);
  }
  throw new Error(`swarm cluster: processes matching ${needle} survive SIGKILL`);
}

// ---- addresses -------------------------------------------------------------------------------------------------

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
}

function overlaps(a: string, aLen: number, b: string, bLen: number): boolean {
  const len = Math.min(aLen, bLen);
  if (len === 0) return true;
  const shift = 32 - len;
  return ipToInt(a) >>> shift === ipToInt(b) >>> shift;
}

/** A free /24 for the bridge: no route of any table and no local address overlaps it. */
async function pickSubnet(): Promise<string> {
  const used: [string, number][] = [];
  const routes = JSON.parse(await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst?: string }[];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default') continue;
    const [ip, len] = r.dst.split('/');
    if (ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip)) used.push([ip, len ? Number(len) : 32]);
  }
  const addrs = JSON.parse(await run('ip', ['-j', '-4', 'addr'])) as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  for (const l of addrs) for (const a of l.addr_info ?? []) if (a.local) used.push([a.local, a.prefixlen ?? 32]);
  for (const range of SUBNET_RANGES) {
    const thirds = [...Array(254).keys()].map((k) => k + 1).sort(() => Math.random() - 0.5);
    for (const t of thirds) {
      const net = `${range}.${t}.0`;
      if (!used.some(([ip, len]) => overlaps(ip, len, net, 24))) return net;
    }
  }
  throw new Error(`swarm cluster: no free /24 in ${SUBNET_RANGES.join('.x, ')}.x`);
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// ---- names and stale leftovers ----------------------------------------------------------------------------------

/** Mount points at or under `path` in this process's mount namespace, in mount order. */
function mountPoints(path: string): string[] {
  const prefix = path.endsWith('/') ? path : `${path}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === path || m.startsWith(prefix));
}

/** The cgroups a killed node's containers leave (cgroup v1: one tree per controller; v2: one tree). */
function removeCgroups(id: string): void {
  const roots = ['/sys/fs/cgroup', ...(existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c)) : [])];
  const rmTree = (d: string): void => {
    try {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(d, e.name));
      rmdirSync(d);
    } catch {
      // Busy or gone: a later teardown tries again.
    }
  };
  for (const root of roots) {
    let entries: string[] = [];
    try {
      entries = readdirSync(root);
    } catch {
      continue;
    }
    for (const e of entries) if (e.startsWith(`${id}-n`)) rmTree(join(root, e));
  }
}

function clusterDir(id: string): string {
  return join(SWARM_CLUSTER_BASE, id);
}

function readOwner(id: string): Owner | undefined {
  try {
    return JSON.parse(readFileSync(join(clusterDir(id), 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

/** The iptables rule letting the bridge's ports talk to each other through the host's FORWARD policy (DROP). */
function forwardRule(id: string): string[] {
  return ['FORWARD', '-i', id, '-o', id, '-m', 'comment', '--comment', `${id}:bridge`, '-j', 'ACCEPT'];
}

/**
 * Removes a cluster from what the system shows, whether or not its directory still exists: processes first (a
 * namespace lives as long as a process in it), then namespaces (their veth ends go with them), links, the rule,
 * the directory.
 */
async function teardown(id: string): Promise<void> {
  const dir = clusterDir(id);
  await killByCmdline(`${dir}/`);
  // Deepest first: the nodes' mount-namespace files, then the private bind of their directory.
  for (const m of mountPoints(`${dir}/`).reverse()) await tryRun('umount', ['-l', m]);
  removeCgroups(id);
  const netns = (await run('ip', ['netns', 'list']).catch(() => ''))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${id}-`));
  for (const ns of netns) await tryRun('ip', ['netns', 'delete', ns]);
  const links = JSON.parse(await run('ip', ['-j', 'link']).catch(() => '[]')) as { ifname: string }[];
  for (const l of links) if (l.ifname === id || new RegExp(`^${id}v\\d+$`).test(l.ifname)) await tryRun('ip', ['link', 'delete', l.ifname]);
  // The rule may have been inserted more than once by nobody else; delete until iptables says it is gone.
  for (let k = 0; k < 5; k++) {
    try {
      await run('iptables', ['-w', '-D', ...forwardRule(id)]);
    } catch {
      break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Ids of clusters whose owning process is gone (and that were not started detached), from every trace they leave. */
async function staleIds(): Promise<string[]> {
  const ids = new Set<string>();
  if (existsSync(SWARM_CLUSTER_BASE)) for (const d of readdirSync(SWARM_CLUSTER_BASE)) if (d.startsWith(PREFIX)) ids.add(d);
  const pattern = new RegExp(`^(${PREFIX}[0-9a-f]{1,8})(?:-n\\d+|v\\d+)?$`);
  for (const l of (await run('ip', ['netns', 'list']).catch(() => '')).split('\n')) {
    const m = pattern.exec(l.split(' ')[0] ?? '');
    if (m?.[1]) ids.add(m[1]);
  }
  for (const l of JSON.parse(await run('ip', ['-j', 'link']).catch(() => '[]')) as { ifname: string }[]) {
    const m = pattern.exec(l.ifname);
    if (m?.[1]) ids.add(m[1]);
  }
  for (const m of (await run('iptables', ['-w', '-S', 'FORWARD']).catch(() => '')).matchAll(new RegExp(`--comment "?(${PREFIX}[0-9a-f]{1,8}):bridge`, 'g'))) {
    if (m[1]) ids.add(m[1]);
  }
  for (const p of processTable()) {
    const m = new RegExp(`${SWARM_CLUSTER_BASE}/(${PREFIX}[0-9a-f]{1,8})/`).exec(p.cmdline);
    if (m?.[1]) ids.add(m[1]);
  }
  return [...ids].filter((id) => {
    const owner = readOwner(id);
    return !owner || (!owner.detached && !isAlive(owner));
  });
}

/** Removes what earlier runs left behind when they were killed; returns the ids removed. */
export async function cleanStaleSwarmClusters(): Promise<string[]> {
  const ids = await staleIds();
  for (const id of ids) await teardown(id);
  return ids;
}

/** Removes a cluster by id (the CLI's `down`, detached clusters included). */
export async function removeSwarmCluster(id: string): Promise<void> {
  if (!new RegExp(`^${PREFIX}[0-9a-f]{1,8}$`).test(id)) throw new Error(`swarm cluster: not a cluster id: ${id}`);
  await teardown(id);
}

/** Ids of the clusters present, with whether their owner still runs. */
export function listSwarmClusters(): { id: string; detached: boolean; alive: boolean; registry?: string; manager?: string }[] {
  if (!existsSync(SWARM_CLUSTER_BASE)) return [];
  return readdirSync(SWARM_CLUSTER_BASE)
    .filter((d) => d.startsWith(PREFIX))
    .map((id) => {
      const owner = readOwner(id);
      let info: { registry?: string; managerDockerHost?: string } = {};
      try {
        info = JSON.parse(readFileSync(join(clusterDir(id), 'cluster.json'), 'utf8')) as typeof info;
      } catch {
        // Still starting, or half removed.
      }
      return { id, detached: owner?.detached ?? false, alive: owner ? owner.detached || isAlive(owner) : false, registry: info.registry, manager: info.managerDockerHost };
    });
}

// ---- the cluster ------------------------------------------------------------------------------------------------

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function spawnDetached(cmd: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', () => undefined);
    child.unref();
    if (!child.pid) throw new Error(`swarm cluster: could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function startRegistry(dir: string, hostAddr: string): Promise<string> {
  const config = join(dir, 'registry.yml');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort(hostAddr);
    const addr = `${hostAddr}:${port}`;
    // JSON is YAML: the registry reads it as its config file.
    writeFileSync(
      config,
      JSON.stringify({
        version: 0.1,
        log: { level: 'warn', fields: { service: 'registry' } },
        storage: { filesystem: { rootdirectory: join(dir, 'registry') }, delete: { enabled: true } },
        http: { addr, secret: randomBytes(16).toString('hex') },
      }),
    );
    const pid = spawnDetached('docker-registry', ['serve', config], join(dir, 'registry.log'));
    try {
      await waitFor(`the registry on ${addr}`, 10_000, async () => {
        const p = readProc(pid);
        if (!p) throw new Error(`docker-registry exited:\n${tail(join(dir, 'registry.log'))}`);
        return (await httpStatus(`http://${addr}/v2/`)) === 200 ? true : undefined;
      });
      return addr;
    } catch (e) {
      // Another process took the port between our probe and the registry's bind: try another one.
      await killByCmdline(config);
      if (attempt >= 2) throw e;
    }
  }
}

class Cluster implements SwarmCluster {
  readonly bridge: string;
  readonly managerDockerHost: string;
  readonly managerSocket: string;
  startupMs = 0;
  #closed = false;
  readonly #clients = new Map<number, Dockerode>();

  constructor(
    readonly id: string,
    readonly subnet: string,
    readonly hostAddr: string,
    readonly registry: string,
    readonly nodes: MutableNode[],
    private readonly heartbeatSeconds: number | undefined,
  ) {
    this.bridge = id;
    const manager = nodes[0] as MutableNode;
    this.managerDockerHost = manager.dockerHost;
    this.managerSocket = manager.socket;
  }

  docker(i = 0): Dockerode {
    const node = this.#node(i);
    let c = this.#clients.get(i);
    if (!c) {
      c = new Dockerode({ socketPath: node.socket });
      this.#clients.set(i, c);
    }
    return c;
  }

  #node(i: number): MutableNode {
    const node = this.nodes[i];
    if (!node) throw new Error(`swarm cluster: no node ${i}`);
    return node;
  }

  /** Starts node i's dockerd inside its namespace and waits until it answers. */
  async launch(i: number): Promise<void> {
    const node = this.#node(i);
    // A SIGKILLed engine leaves its pid files; dockerd refuses to start over its own, and would adopt a
    // containerd whose recorded pid a new process happens to hold.
    rmSync(join(node.dir, 'docker.pid'), { force: true });
    rmSync(join(node.execRoot, 'containerd', 'containerd.pid'), { force: true });
    const mnt = await this.#mountNamespace(node);
    const args = [
      `--mount=${mnt}`, `--net=/run/netns/${node.netns}`, '--',
      // A UTS namespace of its own, so the node gets a hostname of its own (Swarm shows it as the node's name).
      'unshare', '--uts', '--',
      'dockerd',
      // Containers' cgroups under a name of ours: a killed node's leftovers are found and removed by it.
      '--cgroup-parent', `/${node.name}`,
      '--config-file', join(node.dir, 'daemon.json'),
      '--data-root', node.dataRoot,
      '--exec-root', node.execRoot,
      '--host', node.dockerHost,
      '--pidfile', join(node.dir, 'docker.pid'),
      '--insecure-registry', this.registry,
      '--iptables=true',
      '--swarm-default-advertise-addr', node.addr,
    ];
    node.pid = spawnDetached('nsenter', args, join(node.dir, 'dockerd.log'));
    const log = () => `${node.name} dockerd.log:\n${tail(join(node.dir, 'dockerd.log'))}`;
    // `nsenter` and `unshare` exec in place: the pid becomes dockerd's once both are done.
    await waitFor(`${node.name}: dockerd exec`, 10_000, async () => {
      const p = readProc(node.pid);
      if (!p) throw new Error(`dockerd exited at start\n${log()}`);
      return p.cmdline.startsWith('dockerd ') ? true : undefined;
    });
    // Only a process in a UTS namespace other than ours gets a hostname: never the host's.
    if (readlinkSync(`/proc/${node.pid}/ns/uts`) !== readlinkSync('/proc/self/ns/uts')) {
      await run('nsenter', ['--target', String(node.pid), '--uts', 'hostname', node.name]);
    }
    await waitFor(`${node.name}: dockerd answering on ${node.socket}`, 60_000, async () => {
      if (!readProc(node.pid)) throw new Error(`dockerd exited\n${log()}`);
      return (await this.docker(i).ping()) ? true : undefined;
    }, log);
    // dockerd 20.10 adopts the system containerd when /run/containerd/containerd.sock exists; ours must be its own.
    // (The node's private /run/containerd hides any; this check keeps it that way.)
    const containerdPid = Number(readFileSync(join(node.execRoot, 'containerd', 'containerd.pid'), 'utf8').trim());
    const containerd = readProc(containerdPid);
    if (!containerd || !containerd.cmdline.includes(node.execRoot)) {
      throw new Error(`swarm cluster: ${node.name}'s dockerd does not run a containerd of its own (system containerd at /run/containerd?)`);
    }
  }

  /**
   * A fresh mount namespace for node i's engine (each start is a reboot: no mount of the previous run survives),
   * kept by a bind mount of its nsfs file under the cluster's private `ns` directory. `ip netns exec` cannot be
   * used: it remounts /sys for the namespace's network devices and so drops the cgroup mounts under it, and
   * dockerd then refuses to start ("Devices cgroup isn't mounted"). Here /sys is remounted the same way, with
   * /sys/fs/cgroup carried over, and /run/containerd is a tmpfs of the node's.
   */
  async #mountNamespace(node: MutableNode): Promise<string> {
    const mnt = join(clusterDir(this.id), 'ns', node.name);
    if (mountPoints(mnt).length > 0) await run('umount', ['-l', mnt]);
    writeFileSync(mnt, '');
    await run('unshare', [`--mount=${mnt}`, '--propagation', 'private', 'true']);
    const cg = join(node.dir, 'cgroup');
    mkdirSync(cg, { recursive: true });
    const inNs = (args: string[], net = false) => run('nsenter', [`--mount=${mnt}`, ...(net ? [`--net=/run/netns/${node.netns}`] : []), '--', ...args]);
    await inNs(['mount', '--rbind', '/sys/fs/cgroup', cg]);
    await inNs(['mount', '-t', 'sysfs', 'sysfs', '/sys'], true);
    await inNs(['mount', '--rbind', cg, '/sys/fs/cgroup']);
    await inNs(['umount', '-l', cg]);
    // containerd's shared directory, empty and the node's own: dockerd 20.10 would adopt a system containerd whose
    // socket it finds there, and the shims keep their sockets there (a SIGKILLed shim's socket would stay forever).
    mkdirSync('/run/containerd', { recursive: true, mode: 0o700 });
    await inNs(['mount', '-t', 'tmpfs', '-o', 'mode=0700', 'tmpfs', '/run/containerd']);
    return mnt;
  }

  /** Node i joins the swarm as a worker. */
  async join(i: number, token: string): Promise<void> {
    const node = this.#node(i);
    const manager = this.#node(0);
    await this.docker(i).swarmJoin({
      ListenAddr: `${node.addr}:2377`,
      AdvertiseAddr: `${node.addr}:2377`,
      DataPathAddr: node.addr,
      RemoteAddrs: [`${manager.addr}:2377`],
      JoinToken: token,
    });
  }

  async init(): Promise<string> {
    const manager = this.#node(0);
    await this.docker(0).swarmInit({
      ListenAddr: `${manager.addr}:2377`,
      AdvertiseAddr: `${manager.addr}:2377`,
      DataPathAddr: manager.addr,
      ...(this.heartbeatSeconds ? { Spec: { Dispatcher: { HeartbeatPeriod: this.heartbeatSeconds * 1e9 } } } : {}),
    });
    const swarm = (await this.docker(0).swarmInspect()) as { JoinTokens: { Worker: string } };
    return swarm.JoinTokens.Worker;
  }

  /** Waits until the manager lists `count` nodes, each Ready (and the ones given by hostname among them). */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const names = this.nodes.filter((n) => n.pid !== 0).map((n) => n.name);
    await waitFor(`nodes ${names.join(', ')} Ready`, timeoutMs, async () => {
      const listed = (await this.docker(0).listNodes()) as { Description?: { Hostname?: string }; Status?: { State?: string } }[];
      const ready = new Set(listed.filter((n) => n.Status?.State === 'ready').map((n) => n.Description?.Hostname));
      return names.every((n) => ready.has(n)) ? true : undefined;
    });
  }

  async stopNode(i: number, opts: { unplug?: boolean } = {}): Promise<void> {
    const node = this.#node(i);
    if (opts.unplug) await run('ip', ['link', 'set', `${this.id}v${i + 1}`, 'down']);
    await killByCmdline(`${node.dir}/`);
    node.pid = 0;
    this.#clients.delete(i);
  }

  async startNode(i: number): Promise<void> {
    const node = this.#node(i);
    if (node.pid !== 0 && readProc(node.pid)) throw new Error(`swarm cluster: ${node.name} is running`);
    await run('ip', ['link', 'set', `${this.id}v${i + 1}`, 'up']);
    await this.launch(i);
    if (this.#node(0).pid !== 0) await this.waitReady();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clients.clear();
    await teardown(this.id);
  }
}

/**
 * Starts a cluster: bridge, namespaces, registry, one dockerd per node, `swarm init` on the first and `join` of the
 * others as workers, then waits until every node is Ready. Cleans up stale clusters of killed runs first, and
 * everything it made when it fails. Needs root, `ip`, `iptables`, `unshare`, `nsenter`, `dockerd`, `docker-registry`.
 */
export async function startSwarmCluster(opts: SwarmClusterOptions = {}): Promise<SwarmCluster> {
  const started = Date.now();
  const log = opts.log ?? ((l: string) => console.log(l));
  const count = opts.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error('swarm cluster: nodes must be 1–9');
  const hex = opts.id ?? randomBytes(2).toString('hex');
  if (!/^[0-9a-f]{1,8}$/.test(hex)) throw new Error('swarm cluster: id must be 1–8 hex characters');
  const id = `${PREFIX}${hex}`;

  const stale = await cleanStaleSwarmClusters();
  if (stale.length > 0) log(`swarm cluster: removed stale ${stale.join(', ')}`);
  const dir = clusterDir(id);
  if (existsSync(dir)) throw new Error(`swarm cluster: ${id} exists already (${dir})`);
  mkdirSync(dir, { recursive: true });
  // The owner first: from here on anything this run makes is found by the next run if this process is killed.
  const self = readProc(process.pid);
  const owner: Owner = { pid: process.pid, startTime: self?.startTime ?? '', detached: opts.detached ?? false };
  writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner));
  // The nodes' mount-namespace files must sit on a mount that does not propagate (as `ip netns` does for /run/netns).
  mkdirSync(join(dir, 'ns'));

  try {
    await run('mount', ['--bind', join(dir, 'ns'), join(dir, 'ns')]);
    await run('mount', ['--make-private', join(dir, 'ns')]);
    await run('ip', ['link', 'add', id, 'type', 'bridge']);
    let net = '';
    for (let attempt = 0; !net; attempt++) {
      const candidate = await pickSubnet();
      await run('ip', ['addr', 'add', `${candidate.slice(0, candidate.lastIndexOf('.'))}.1/24`, 'dev', id]);
      // Two clusters starting at once may pick the same /24: one that sees the other's address there moves on.
      const links = JSON.parse(await run('ip', ['-j', '-4', 'addr'])) as { ifname: string; addr_info?: { local?: string }[] }[];
      const clash = links.some((l) => l.ifname !== id && (l.addr_info ?? []).some((a) => a.local && overlaps(a.local, 32, candidate, 24)));
      if (!clash) net = candidate;
      else if (attempt >= 5) throw new Error(`swarm cluster: no free /24 after ${attempt + 1} attempts`);
      else await run('ip', ['addr', 'flush', 'dev', id]);
    }
    const base = net.slice(0, net.lastIndexOf('.'));
    const hostAddr = `${base}.1`;
    await run('ip', ['link', 'set', id, 'up']);
    // With br_netfilter, frames between the bridge's ports go through the host's FORWARD chain, whose policy the
    // host engine set to DROP: without this rule the nodes cannot reach each other (the host reaches them anyway).
    await run('iptables', ['-w', '-I', ...forwardRule(id)]);

    const nodes: MutableNode[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${id}-n${i + 1}`;
      const ndir = join(dir, `n${i + 1}`);
      const socket = join(ndir, 'docker.sock');
      const node: MutableNode = {
        index: i, name, netns: name, role: i === 0 ? 'manager' : 'worker', addr: `${base}.${i + 2}`,
        socket, dockerHost: `unix://${socket}`, dataRoot: join(ndir, 'data'), execRoot: join(ndir, 'exec'), dir: ndir, pid: 0,
      };
      mkdirSync(node.dataRoot, { recursive: true });
      mkdirSync(node.execRoot, { recursive: true });
      // Its own config file (the host's /etc/docker/daemon.json is not the node's) and its own trust key (the
      // engine id; the default /etc/docker/key.json would give every node the host engine's id).
      writeFileSync(join(ndir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(ndir, 'key.json') }));
      const veth = `${id}v${i + 1}`;
      await run('ip', ['netns', 'add', node.netns]);
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
      await run('ip', ['link', 'set', veth, 'master', id]);
      await run('ip', ['link', 'set', veth, 'up']);
      await run('ip', ['-n', node.netns, 'addr', 'add', `${node.addr}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', node.netns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', node.netns, 'route', 'add', 'default', 'via', hostAddr]);
      nodes.push(node);
    }

    const registry = await startRegistry(dir, hostAddr);
    const cluster = new Cluster(id, `${net}/24`, hostAddr, registry, nodes, opts.heartbeatSeconds);
    await Promise.all(nodes.map((_, i) => cluster.launch(i)));
    const token = await cluster.init();
    await Promise.all(nodes.slice(1).map((_, k) => cluster.join(k + 1, token)));
    await cluster.waitReady();
    cluster.startupMs = Date.now() - started;
    writeFileSync(
      join(dir, 'cluster.json'),
      JSON.stringify({ id, subnet: cluster.subnet, hostAddr, registry, managerDockerHost: cluster.managerDockerHost, nodes: nodes.map(({ pid: _pid, ...n }) => n) }, null, 2),
    );
    log(`swarm cluster ${id}: ${count} nodes Ready in ${(cluster.startupMs / 1000).toFixed(1)} s (manager ${cluster.managerDockerHost} at ${nodes[0]?.addr}, registry ${registry})`);
    return cluster;
  } catch (e) {
    await teardown(id).catch(() => undefined);
    throw e;
  }
}
