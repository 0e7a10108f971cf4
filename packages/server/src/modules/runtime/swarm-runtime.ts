// The runtime on a Docker Swarm cluster: each service of a release is a Swarm service of its own (one per release,
// not `start-first` updates of one long-lived service: see startRelease), its replicas are tasks on whichever nodes
// the orchestrator picks, each publishing its port in host mode on its node, where the ingress reaches it. Swarm
// restarts and reschedules tasks itself; this follows task states (polled: Swarm's event stream has no task
// events) to route only tasks that answered, as the single-engine runtime does with container events.
import { DockerError, httpProbe, isImageId, LABELS, tcpProbe, validateImageRef, type DockerDriver, type Labels, type RegistryAuth, type SwarmDriver, type SwarmNode, type SwarmServiceInfo, type SwarmTask } from '@cynchro/docker-driver';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AppEvents } from '../../lib/app-events.js';
import type { AppRuntime, BuildRequest, Release, ReleaseRef, ReleaseService, Replica, ReplicaStats, RuntimeEvent, RuntimeNode, StartOptions } from './app-runtime.js';
import { buildOptions } from './build-options.js';
import { startOrder } from './docker-runtime.js';
import { builtImageTag, EXTRA_LABELS, networkName, releaseLabels, volumeName } from './names.js';

export interface SwarmRuntimeOptions {
  /** The manager's engine: builds happen here, before their push to the registry. */
  docker: DockerDriver;
  swarm: SwarmDriver;
  events: AppEvents;
  log: Logger;
  /** Where built images go; every node pulls from it. */
  registry: { host: string; username?: string; password?: string };
  /** How often task states are read. */
  pollMs?: number;
  probeTimeoutMs?: number;
  /** The MTU of app overlays (SWARM_OVERLAY_MTU), when the network between nodes carries less than 1500 bytes. */
  overlayMtu?: number;
  /** Seconds a task gets between SIGTERM and SIGKILL. */
  stopGraceSeconds?: number;
}

/** Task states after which a task never runs again (Swarm starts a new task in its slot instead). */
const FINAL = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);
const DIGEST_REF = /@sha256:[0-9a-f]{64}$/;

export function swarmServiceName(ref: Pick<ReleaseRef, 'deploymentId'>, service: string): string {
  // Service names are DNS labels (≤ 63, no underscore); the deployment id is unique, the service name readable.
  return `cyn-${ref.deploymentId.replace(/^dep_/, '')}-${service}`.slice(0, 63).replace(/-+$/, '');
}

function secretName(ref: Pick<ReleaseRef, 'deploymentId'>, service: string, key: string): string {
  const h = createHash('sha256').update(`${service}\0${key}`).digest('hex').slice(0, 12);
  return `cyn-${ref.deploymentId.replace(/^dep_/, '')}-${h}`;
}

/** `host:port/repo:tag` → `host:port/repo` (a digest or tag dropped). */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf('@');
  const noDigest = at >= 0 ? ref.slice(0, at) : ref;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

interface Seen {
  appId: string;
  deploymentId: string;
  running: boolean;
  healthy: boolean;
  reportedDown: boolean;
}

export class SwarmRuntime implements AppRuntime {
  readonly kind = 'swarm' as const;
  private readonly swarm: SwarmDriver;
  private readonly auth: RegistryAuth | undefined;
  /** Task id → when it was seen answering. Tasks never restart (a new task takes the slot), so this only grows stale by removal. */
  private readonly healthyAt = new Map<string, number>();
  private readonly probing = new Map<string, AbortController>();
  /** Service ids startRelease is starting and proving: their tasks are not news to the poller. */
  private readonly starting = new Set<string>();
  /** What the last poll saw of each task, to tell what changed. */
  private seen = new Map<string, Seen>();
  private nodesById = new Map<string, SwarmNode>();
  private readonly prepared = new Map<string, Promise<string>>();
  private polling: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private engineDown = false;

  constructor(private readonly o: SwarmRuntimeOptions) {
    this.swarm = o.swarm;
    this.auth = o.registry.username ? { username: o.registry.username, password: o.registry.password ?? '', serveraddress: o.registry.host } : undefined;
  }

  async start(): Promise<void> {
    if (this.polling) return;
    // Fails loudly when the engine is no Swarm manager: nothing else would work.
    await this.swarm.swarmId().catch((err: unknown) => {
      throw new DockerError('engine', `RUNTIME=swarm needs the engine to be a Swarm manager (docker swarm init): ${(err as Error).message}`);
    });
    await this.refreshNodes();
    this.polling = new AbortController();
    this.loop = this.follow(this.polling.signal);
  }

  async stop(): Promise<void> {
    this.polling?.abort();
    for (const p of this.probing.values()) p.abort();
    await this.loop;
    this.polling = undefined;
  }

  async build(req: BuildRequest): Promise<{ image: string; commitSha: string }> {
    const tag = builtImageTag(req.ref.appId, req.ref.deploymentId, req.service);
    const built = await this.o.docker.buildFromGit(buildOptions(req));
    const repo = `${this.o.registry.host}/${repositoryOf(tag)}`;
    const pushTag = tag.slice(tag.lastIndexOf(':') + 1);
    req.onLine(`pushing to ${repo}:${pushTag}`);
    const digest = await this.swarm.pushImage(built.imageId, repo, pushTag, { ...(this.auth ? { auth: this.auth } : {}), signal: req.signal, timeoutMs: req.timeoutMs, onLine: req.onLine });
    // Every node runs exactly this image: by digest, from the registry.
    return { image: `${repo}@${digest}`, commitSha: built.commitSha };
  }

  async ensureImage(ref: string): Promise<string> {
    return (await this.pin(ref, true))!;
  }

  async imageId(ref: string): Promise<string | null> {
    return this.pin(ref, false);
  }

  async prepare(ref: Pick<ReleaseRef, 'appId' | 'orgId'>): Promise<void> {
    const made = this.ensureOverlay(ref);
    this.prepared.set(ref.appId, made);
    await made;
  }

  /**
   * A Swarm service per release and service, never `start-first` updates of one service: the release model is the
   * runtime interface's (the old release keeps serving untouched until the new one is proven and the routes moved,
   * a failed release is removed whole, a rollback starts any recorded release again), and Swarm keeps only one
   * step of history (PreviousSpec) while our releases keep KEEP_RELEASES. The ingress routes to task ports, so
   * nothing waits for Swarm's VIP or health bookkeeping either.
   */
  async startRelease(release: Release, opts: StartOptions): Promise<void> {
    try {
      const network = await this.overlayFor(release);
      for (const wave of startOrder(release.services)) {
        await Promise.all(
          wave.map(async (svc) => {
            const image = await this.runnable(svc.image);
            await opts.log(`starting ${svc.name} (${image}, ${svc.replicas} replica(s))`);
            const id = await this.createService(release, svc, image, network);
            this.starting.add(id);
            try {
              const tasks = await this.waitServing(id, svc, opts);
              const where = [...new Set(tasks.map((t) => this.nodesById.get(t.nodeId)?.hostname ?? t.nodeId.slice(0, 12)))].join(', ');
              await opts.log(`${svc.name} started (${tasks.length} task(s) on ${where})`);
              for (const t of tasks) this.markHealthy(t, release);
            } finally {
              this.starting.delete(id);
            }
            await opts.log(`${svc.name} is healthy`);
          }),
        );
      }
    } catch (err) {
      await this.removeRelease(release).catch((e) => this.o.log.warn({ err: e }, 'cleanup of a failed release'));
      throw err;
    }
  }

  async replicas(appId: string, deploymentId?: string): Promise<Replica[]> {
    const services = await this.services({ [LABELS.app]: appId, ...(deploymentId ? { [LABELS.deployment]: deploymentId } : {}) });
    if (!services.length) return [];
    const tasks = await this.swarm.listTasks(services.map((s) => s.id));
    const out: Replica[] = [];
    for (const s of services) {
      for (const t of this.currentTasks(s, tasks)) out.push(this.toReplica(s, t));
    }
    return out;
  }

  async stats(appId: string, deploymentId?: string): Promise<ReplicaStats[]> {
    // The manager's engine reads only its own containers: tasks on other nodes have no reading here (README).
    const self = await this.o.docker.engineInfo().catch(() => null);
    const services = await this.services({ [LABELS.app]: appId, ...(deploymentId ? { [LABELS.deployment]: deploymentId } : {}) });
    if (!services.length) return [];
    const tasks = await this.swarm.listTasks(services.map((s) => s.id));
    const out: ReplicaStats[] = [];
    for (const s of services) {
      for (const t of this.currentTasks(s, tasks)) {
        const r = this.toReplica(s, t);
        if (!r.running || !t.containerId || this.nodesById.get(t.nodeId)?.hostname !== self?.name) continue;
        const usage = await this.o.docker.containerStats(t.containerId).catch(() => null);
        if (!usage) continue;
        out.push({ replicaId: r.id, service: r.service, index: r.index, cpuPercent: usage.cpuPercent, memoryBytes: usage.memoryBytes, memoryLimitBytes: usage.memoryLimitBytes, restarts: 0, startedAt: t.updatedAt });
      }
    }
    return out.sort((a, b) => a.service.localeCompare(b.service) || a.index - b.index);
  }

  /** Swarm replaces dead tasks itself; what can be missing is a whole service (removed by hand) or its count. */
  async repair(release: Release, missing: { service: string; index: number }[], stopped: Replica[]): Promise<void> {
    const wanted = new Set([...missing.map((m) => m.service), ...stopped.map((r) => r.service)]);
    const services = await this.services({ [LABELS.app]: release.appId, [LABELS.deployment]: release.deploymentId });
    const network = await this.ensureOverlay(release);
    for (const svc of release.services.filter((s) => wanted.has(s.name))) {
      const have = services.find((s) => s.labels[LABELS.service] === svc.name);
      if (have) await this.swarm.scaleService(have.id, svc.replicas);
      else await this.createService(release, svc, await this.runnable(svc.image), network);
    }
  }

  /** Swarm restarts a task by replacing it: nothing is restarted in place, so each is left for repair(). */
  async restartStopped(replicas: Replica[]): Promise<Replica[]> {
    return replicas;
  }

  /**
   * Tasks cannot be removed one by one: a service whose every current task is named goes whole (another release's
   * leftovers), otherwise it is scaled down by as many (surplus replicas).
   */
  async removeReplicas(ids: string[]): Promise<void> {
    const gone = new Set(ids);
    const services = await this.services({ [LABELS.managed]: 'true' });
    const tasks = await this.swarm.listTasks(services.map((s) => s.id));
    for (const s of services) {
      const current = this.currentTasks(s, tasks);
      const named = current.filter((t) => gone.has(t.id)).length;
      if (!named) continue;
      for (const t of current) if (gone.has(t.id)) this.forget(t.id);
      if (named >= current.length) await this.removeServices([s]);
      else await this.swarm.scaleService(s.id, Math.max(0, s.replicas - named));
    }
  }

  async proveRunning(replicas: Replica[], timeoutMs: number): Promise<void> {
    await Promise.all(
      replicas
        .filter((r) => r.running && !this.healthyAt.has(r.id) && r.endpoint)
        .map(async (r) => {
          const s = (await this.services({ [LABELS.app]: r.appId, [LABELS.deployment]: r.deploymentId })).find((x) => x.labels[LABELS.service] === r.service);
          const problem = await this.probeOnce(r.endpoint!, s?.labels[EXTRA_LABELS.healthPath], timeoutMs);
          if (problem === null) this.healthyAt.set(r.id, Date.now());
        }),
    );
  }

  /** Secret files live in the swarm (encrypted in its raft log) and on the tasks' tmpfs: nothing to hand back. */
  async holdSecretFiles(): Promise<number> {
    return 0;
  }

  async stopApp(appId: string): Promise<void> {
    const services = await this.services({ [LABELS.app]: appId });
    for (const s of services) await this.swarm.scaleService(s.id, 0);
    for (const [id, seen] of this.seen) if (seen.appId === appId) this.forget(id);
  }

  async retireOthers(appId: string, keepDeploymentId: string, drainMs: number): Promise<number> {
    const old = (await this.services({ [LABELS.app]: appId })).filter((s) => s.labels[LABELS.deployment] !== keepDeploymentId);
    if (!old.length) return 0;
    const tasks = (await this.swarm.listTasks(old.map((s) => s.id))).filter((t) => t.desiredState === 'running');
    if (drainMs > 0) await sleep(drainMs);
    await this.removeServices(old);
    return tasks.length;
  }

  async removeRelease(ref: ReleaseRef): Promise<void> {
    await this.removeServices(await this.services({ [LABELS.app]: ref.appId, [LABELS.deployment]: ref.deploymentId }));
    await this.removeSecrets({ [LABELS.app]: ref.appId, [LABELS.deployment]: ref.deploymentId });
  }

  async removeApp(appId: string): Promise<void> {
    this.prepared.delete(appId);
    await this.removeServices(await this.services({ [LABELS.app]: appId }));
    await this.removeSecrets({ [LABELS.app]: appId });
    // The overlay goes once its tasks have left it (the engine refuses before).
    // The manager may list a removed overlay for a moment (its local copy goes after the cluster's): until it is gone
    // the app still has something on the runtime.
    for (let until = Date.now() + 60_000; ; ) {
      const left = await this.swarm.listOverlays({ [LABELS.app]: appId });
      if (!left.length) break;
      if (Date.now() > until) throw new DockerError('engine', `the network of ${appId} is still there after its removal`);
      for (const n of left) await this.swarm.removeOverlay(n.id, 60_000);
      await sleep(200);
    }
    // The manager's own copies of built images, and volumes on the manager (other nodes' volumes stay: see README).
    await this.o.docker.removeByLabels({ [LABELS.app]: appId }, { volumes: true, images: true });
  }

  async appsOnRuntime(orgIds: Set<string>): Promise<Set<string>> {
    const found = new Set<string>();
    const ours = (l: Labels) => orgIds.has(l[LABELS.org] ?? '') && l[LABELS.app];
    for (const s of await this.services({ [LABELS.managed]: 'true' })) if (ours(s.labels)) found.add(s.labels[LABELS.app]!);
    for (const n of await this.swarm.listOverlays({ [LABELS.managed]: 'true' })) if (ours(n.labels)) found.add(n.labels[LABELS.app]!);
    return found;
  }

  pruneImages(appId: string, keep: number, protect: string[]): Promise<string[]> {
    // Only the manager's local copies; the registry keeps every pushed digest (its own garbage collection).
    return this.o.docker.pruneImages({ [LABELS.app]: appId }, keep, protect);
  }

  logs(replicaId: string, opts: { tail: number }) {
    return this.swarm.taskLogs(replicaId, { tail: opts.tail });
  }

  followLogs(replicaId: string, opts: { signal: AbortSignal; tail?: number; since?: number }) {
    return this.swarm.followTaskLogs(replicaId, opts);
  }

  async nodes(): Promise<RuntimeNode[]> {
    const nodes = await this.swarm.listNodes();
    const services = await this.services({ [LABELS.managed]: 'true' });
    const tasks = services.length ? await this.swarm.listTasks(services.map((s) => s.id)) : [];
    const appOf = new Map(services.map((s) => [s.id, s.labels[LABELS.app] ?? '']));
    return nodes.map((n) => ({
      id: n.id,
      hostname: n.hostname,
      role: n.role,
      state: n.state,
      availability: n.availability,
      cpus: n.cpus,
      memoryMb: Math.round(n.memoryBytes / (1024 * 1024)),
      apps: new Set(tasks.filter((t) => t.nodeId === n.id && t.state === 'running' && t.desiredState === 'running').map((t) => appOf.get(t.serviceId))).size,
    }));
  }

  // ---- internals

  private services(labels: Labels): Promise<SwarmServiceInfo[]> {
    return this.swarm.listServices(labels);
  }

  /**
   * What a service runs from: a digest ref as is; a name resolved to the digest its registry has now, so every
   * node (and every restart) runs the same image. `required`: no digest is an error, not null.
   */
  private async pin(ref: string, required: boolean): Promise<string | null> {
    if (isImageId(ref)) {
      if (required) throw new DockerError('invalid_ref', `${ref}: on RUNTIME=swarm images run from a registry by digest, not by a local image id`);
      return null;
    }
    validateImageRef(ref);
    const digest = await this.swarm.registryDigest(ref, this.authFor(ref));
    if (digest && DIGEST_REF.test(ref) && !ref.endsWith(digest)) return required ? ref : null;
    if (digest) return DIGEST_REF.test(ref) ? ref : `${repositoryOf(ref)}@${digest}`;
    if (!required) return null;
    throw new DockerError('not_found', `image ${ref} is not in its registry: with RUNTIME=swarm every node pulls the image, so it must be in a registry the nodes reach (push it there, e.g. to REGISTRY ${this.o.registry.host})`);
  }

  private async runnable(image: string): Promise<string> {
    return DIGEST_REF.test(image) ? image : (await this.pin(image, true))!;
  }

  private authFor(ref: string): RegistryAuth | undefined {
    return this.auth && ref.startsWith(`${this.o.registry.host}/`) ? this.auth : undefined;
  }

  private ensureOverlay(ref: Pick<ReleaseRef, 'appId' | 'orgId'>): Promise<string> {
    return this.swarm.ensureOverlay(networkName(ref.appId), releaseLabels(ref, false), this.o.overlayMtu ? { mtu: this.o.overlayMtu } : {});
  }

  private overlayFor(release: Release): Promise<string> {
    const made = this.prepared.get(release.appId);
    this.prepared.delete(release.appId);
    return made ? made.catch(() => this.ensureOverlay(release)) : this.ensureOverlay(release);
  }

  private async createService(release: Release, svc: ReleaseService, image: string, network: string): Promise<string> {
    const labels: Labels = {
      ...releaseLabels(release),
      [LABELS.service]: svc.name,
      ...(svc.port !== undefined ? { [EXTRA_LABELS.port]: String(svc.port) } : {}),
      ...(svc.healthPath ? { [EXTRA_LABELS.healthPath]: svc.healthPath } : {}),
    };
    // Immutable per deployment: a new release gets new secrets; they go with its services.
    const secrets: { id: string; name: string; file: string }[] = [];
    const held = Object.keys(svc.secretFiles).length ? await this.swarm.listSecrets({ [LABELS.deployment]: release.deploymentId }) : [];
    for (const [key, content] of Object.entries(svc.secretFiles)) {
      const name = secretName(release, svc.name, key);
      const existing = held.find((s) => s.name === name);
      const id = existing?.id ?? (await this.swarm.createSecret(name, content, { ...labels }));
      secrets.push({ id, name, file: key });
    }
    return this.swarm.createService({
      name: swarmServiceName(release, svc.name),
      image,
      ...(svc.command ? { command: svc.command } : {}),
      env: svc.env,
      labels,
      replicas: svc.replicas,
      cpu: svc.cpu,
      memoryMb: svc.memoryMb,
      network,
      aliases: [svc.name],
      ...(svc.port !== undefined ? { port: svc.port } : {}),
      secrets,
      volumes: svc.volumes.map((v) => ({ name: volumeName(release.appId, v.name), path: v.path })),
      constraints: svc.volumes.length ? [`node.id==${await this.volumeNode(release.appId, svc.name)}`] : [],
      stopGraceSeconds: this.o.stopGraceSeconds ?? 10,
      ...(this.authFor(image) ? { auth: this.authFor(image)! } : {}),
    });
  }

  /**
   * Volumes are node-local: a service with volumes runs where its earlier releases ran (their data is there);
   * the first release goes to the manager.
   */
  private async volumeNode(appId: string, service: string): Promise<string> {
    const earlier = (await this.services({ [LABELS.app]: appId })).filter((s) => s.labels[LABELS.service] === service);
    if (earlier.length) {
      const t = (await this.swarm.listTasks(earlier.map((s) => s.id))).find((x) => x.nodeId);
      if (t) return t.nodeId;
    }
    const nodes = await this.swarm.listNodes();
    const home = nodes.find((n) => n.leader) ?? nodes.find((n) => n.role === 'manager');
    if (!home) throw new DockerError('engine', 'no manager node to keep volumes on');
    return home.id;
  }

  /**
   * Until `replicas` tasks of the service run and answer at their node's port. A task that fails is replaced by
   * Swarm; its error is what the deployment reports if the deadline passes.
   */
  private async waitServing(serviceId: string, svc: ReleaseService, opts: StartOptions): Promise<SwarmTask[]> {
    const deadline = Date.now() + opts.startMs + opts.healthMs;
    let lastProblem = 'no task was scheduled (is there a node with room for its cpu and memory?)';
    const proven = new Set<string>();
    while (!opts.signal.aborted) {
      const tasks = await this.swarm.listTasks([serviceId]);
      await this.refreshNodes();
      const failed = tasks.find((t) => FINAL.has(t.state) && (t.error || t.state === 'rejected'));
      if (failed) lastProblem = `task ${failed.slot} ${failed.state}: ${failed.error ?? failed.message}`;
      const running = tasks.filter((t) => t.desiredState === 'running' && t.state === 'running' && this.nodeReady(t.nodeId));
      await Promise.all(
        running
          .filter((t) => !proven.has(t.id))
          .map(async (t) => {
            const at = this.endpointOf(t, svc.port);
            if (svc.port !== undefined && !at) return;
            const problem = at ? await this.probeOnce(at, svc.healthPath, 1_000) : null;
            if (problem === null) proven.add(t.id);
            else lastProblem = `task ${t.slot} on ${this.nodesById.get(t.nodeId)?.hostname ?? t.nodeId}: ${problem}`;
          }),
      );
      const bySlot = new Map<number, SwarmTask>();
      for (const t of running) if (proven.has(t.id) && !bySlot.has(t.slot)) bySlot.set(t.slot, t);
      if (bySlot.size >= svc.replicas) return [...bySlot.values()];
      if (Date.now() > deadline) throw new DockerError('health_timeout', `${svc.name}: ${bySlot.size}/${svc.replicas} replica(s) answered within ${Math.round((opts.startMs + opts.healthMs) / 1000)} s; last problem: ${lastProblem}`);
      await sleep(200, undefined, { signal: opts.signal }).catch(() => undefined);
    }
    throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('canceled');
  }

  private probeOnce(at: { host: string; port: number }, healthPath: string | undefined, timeoutMs: number): Promise<string | null> {
    return healthPath ? httpProbe(at.port, healthPath, timeoutMs, at.host) : tcpProbe(at.port, timeoutMs, true, at.host);
  }

  private endpointOf(t: SwarmTask, port: number | undefined): { host: string; port: number } | undefined {
    const node = this.nodesById.get(t.nodeId);
    if (port === undefined || !t.hostPort || !node?.addr) return undefined;
    return { host: node.addr, port: t.hostPort };
  }

  private nodeReady(nodeId: string): boolean {
    return this.nodesById.get(nodeId)?.state === 'ready';
  }

  /** Per slot, the task that stands for the replica now: the newest one Swarm wants running, else the newest. */
  private currentTasks(s: SwarmServiceInfo, tasks: SwarmTask[]): SwarmTask[] {
    const mine = tasks.filter((t) => t.serviceId === s.id);
    const bySlot = new Map<number, SwarmTask>();
    for (const t of mine) {
      const had = bySlot.get(t.slot);
      const wants = (x: SwarmTask) => x.desiredState === 'running' || x.desiredState === 'ready';
      if (!had || (wants(t) && !wants(had))) bySlot.set(t.slot, t);
    }
    // Slots beyond the count are Swarm's leftovers of a scale-down; a stopped app (0) still shows its last tasks.
    return [...bySlot.values()].filter((t) => s.replicas === 0 || t.slot <= s.replicas || t.desiredState === 'running');
  }

  private toReplica(s: SwarmServiceInfo, t: SwarmTask): Replica {
    const running = t.state === 'running' && t.desiredState === 'running' && this.nodeReady(t.nodeId);
    // Swarm still wants the slot: it is restarting or rescheduling it, which the reconciler leaves to it.
    const state = running ? 'running' : s.replicas > 0 && t.desiredState === 'running' ? 'restarting' : t.state;
    const port = s.labels[EXTRA_LABELS.port] ? Number(s.labels[EXTRA_LABELS.port]) : undefined;
    const r: Replica = {
      id: t.id,
      appId: s.labels[LABELS.app] ?? '',
      deploymentId: s.labels[LABELS.deployment] ?? '',
      service: s.labels[LABELS.service] ?? 'app',
      index: Math.max(0, t.slot - 1),
      state,
      running,
      healthy: running && this.healthyAt.has(t.id) && !this.engineDown,
      createdAt: t.createdAt,
    };
    const at = this.endpointOf(t, port);
    if (at) r.endpoint = at;
    return r;
  }

  private markHealthy(t: SwarmTask, ref: ReleaseRef): void {
    this.healthyAt.set(t.id, Date.now());
    this.seen.set(t.id, { appId: ref.appId, deploymentId: ref.deploymentId, running: true, healthy: true, reportedDown: false });
  }

  private forget(id: string): void {
    this.healthyAt.delete(id);
    this.probing.get(id)?.abort();
    this.probing.delete(id);
  }

  private async removeServices(services: SwarmServiceInfo[]): Promise<void> {
    const tasks = services.length ? await this.swarm.listTasks(services.map((s) => s.id)) : [];
    for (const t of tasks) this.forget(t.id);
    await Promise.all(services.map((s) => this.swarm.removeService(s.id)));
    const deployments = new Set(services.map((s) => s.labels[LABELS.deployment]).filter((x): x is string => !!x));
    for (const d of deployments) {
      const left = await this.services({ [LABELS.deployment]: d });
      if (!left.length) await this.removeSecrets({ [LABELS.deployment]: d });
    }
  }

  private async removeSecrets(labels: Labels): Promise<void> {
    for (const s of await this.swarm.listSecrets(labels)) await this.swarm.removeSecret(s.id);
  }

  private async refreshNodes(): Promise<void> {
    this.nodesById = new Map((await this.swarm.listNodes()).map((n) => [n.id, n]));
  }

  /** Reads task states for as long as the runtime runs; a gap in reaching the manager ends in a resync. */
  private async follow(signal: AbortSignal): Promise<void> {
    const every = this.o.pollMs ?? 1000;
    while (!signal.aborted) {
      try {
        await this.pollOnce();
        if (this.engineDown) {
          this.engineDown = false;
          this.emit({ type: 'resync' });
        }
      } catch (err) {
        if (signal.aborted) break;
        if (!this.engineDown) {
          this.engineDown = true;
          this.healthyAt.clear();
          this.emit({ type: 'engine-down', reason: (err as Error).message });
        }
      }
      await sleep(every, undefined, { signal }).catch(() => undefined);
    }
  }

  private async pollOnce(): Promise<void> {
    await this.refreshNodes();
    const services = await this.services({ [LABELS.managed]: 'true' });
    const byId = new Map(services.map((s) => [s.id, s]));
    const tasks = services.length ? await this.swarm.listTasks(services.map((s) => s.id)) : [];
    const next = new Map<string, Seen>();
    for (const t of tasks) {
      const s = byId.get(t.serviceId);
      if (!s) continue;
      const appId = s.labels[LABELS.app] ?? '';
      const deploymentId = s.labels[LABELS.deployment] ?? '';
      const before = this.seen.get(t.id);
      const running = t.state === 'running' && t.desiredState === 'running' && this.nodeReady(t.nodeId);
      const now: Seen = { appId, deploymentId, running, healthy: running && this.healthyAt.has(t.id), reportedDown: before?.reportedDown ?? false };
      next.set(t.id, now);
      if (running) {
        if (!this.healthyAt.has(t.id) && !this.probing.has(t.id) && !this.starting.has(t.serviceId)) this.probe(t, s);
        continue;
      }
      // Down: a crash (failed), the orchestrator stopping it (a drain, a scale-down, a removal) or its node lost.
      const wasUp = before?.running || this.healthyAt.has(t.id);
      this.forget(t.id);
      const crashed = t.state === 'failed' && t.desiredState !== 'shutdown';
      if ((wasUp || crashed) && !now.reportedDown && (FINAL.has(t.state) || !this.nodeReady(t.nodeId) || t.desiredState !== 'running')) {
        now.reportedDown = true;
        const action = crashed ? 'die' : !this.nodeReady(t.nodeId) ? 'node-down' : 'killed';
        this.emit({ type: 'replica-down', appId, deploymentId, replicaId: t.id, action, ...(crashed && t.exitCode !== undefined ? { exitCode: t.exitCode } : {}) });
      }
    }
    // Tasks gone from the list (their service removed): down if they were serving.
    for (const [id, was] of this.seen) {
      if (next.has(id)) continue;
      this.forget(id);
      if (was.running && !was.reportedDown) this.emit({ type: 'replica-down', appId: was.appId, deploymentId: was.deploymentId, replicaId: id, action: 'destroy' });
    }
    this.seen = next;
  }

  /** In the background: once the task answers at its node's port, it is routable (announced as replica-up). */
  private probe(t: SwarmTask, s: SwarmServiceInfo): void {
    const port = s.labels[EXTRA_LABELS.port] ? Number(s.labels[EXTRA_LABELS.port]) : undefined;
    const ac = new AbortController();
    this.probing.set(t.id, ac);
    const deadline = Date.now() + (this.o.probeTimeoutMs ?? 60_000);
    void (async () => {
      while (!ac.signal.aborted && Date.now() < deadline) {
        const at = this.endpointOf(t, port);
        const problem = port === undefined ? null : at ? await this.probeOnce(at, s.labels[EXTRA_LABELS.healthPath], 1_000) : 'no published port yet';
        if (ac.signal.aborted) return;
        if (problem === null) {
          this.healthyAt.set(t.id, Date.now());
          this.emit({ type: 'replica-up', appId: s.labels[LABELS.app] ?? '', deploymentId: s.labels[LABELS.deployment] ?? '', replicaId: t.id });
          return;
        }
        await sleep(250, undefined, { signal: ac.signal }).catch(() => undefined);
      }
    })().finally(() => {
      if (this.probing.get(t.id) === ac) this.probing.delete(t.id);
    });
  }

  private emit(e: RuntimeEvent): void {
    this.o.events.emit('runtime', e);
  }
}
