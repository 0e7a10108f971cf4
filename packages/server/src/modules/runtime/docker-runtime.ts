// The runtime on one Docker engine: each replica is a container on the app's private bridge network, published on
// 127.0.0.1. It follows the engine's event stream (reconnecting with back-off, announcing a resync after any gap)
// and keeps, per container, whether it has answered since its latest start: only those are endpoints.
import { DockerError, isImageId, LABELS, validateImageRef, type ContainerInfo, type DockerDriver, type EngineEvent, type Labels } from '@cynchro/docker-driver';
import type { Logger } from 'pino';
import type { AppEvents } from '../../lib/app-events.js';
import { step } from '../../lib/step-timeout.js';
import type { AppRuntime, BuildRequest, Release, ReleaseRef, ReleaseService, Replica, ReplicaStats, RuntimeEvent, RuntimeNode, StartOptions } from './app-runtime.js';
import { buildOptions } from './build-options.js';
import { builtImageTag, containerName, EXTRA_LABELS, networkName, releaseLabels, volumeName } from './names.js';

export interface DockerRuntimeOptions {
  docker: DockerDriver;
  events: AppEvents;
  log: Logger;
  /** How long a restarted replica may take to answer before it is left unrouted (the reconciler looks again). */
  probeTimeoutMs?: number;
  /** Back-off bounds for reconnecting to the engine's event stream. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

const DOWN_ACTIONS = new Set(['die', 'kill', 'stop', 'destroy', 'oom']);

export function startOrder(services: ReleaseService[]): ReleaseService[][] {
  const done = new Set<string>();
  const waves: ReleaseService[][] = [];
  let left = [...services];
  while (left.length) {
    const wave = left.filter((s) => s.dependsOn.every((d) => done.has(d)));
    if (!wave.length) throw new Error('dependsOn cycle');
    waves.push(wave);
    wave.forEach((s) => done.add(s.name));
    left = left.filter((s) => !done.has(s.name));
  }
  return waves;
}

export class DockerRuntime implements AppRuntime {
  readonly kind = 'docker' as const;
  private readonly docker: DockerDriver;
  /** Container id → when it was last seen answering (ms). A start event newer than that makes it unproven again. */
  private readonly healthyAt = new Map<string, number>();
  private readonly probing = new Map<string, AbortController>();
  /** When a container last got a kill signal: its next death is a kill, not a crash. */
  private readonly killedAt = new Map<string, number>();
  /** Containers seen dying and not yet seen starting again. */
  private readonly downSeen = new Set<string>();
  /** Container id → how often this process saw it start again after a death (whoever started it). */
  private readonly restartsSeen = new Map<string, number>();
  /** App id → its network as prepare() is making it, for the app's next startRelease. */
  private readonly prepared = new Map<string, Promise<string>>();
  /** Names of the containers startRelease is starting and proving: their start event is not news. */
  private readonly starting = new Set<string>();
  private follow: AbortController | undefined;
  private following: Promise<void> | undefined;
  private engineDown = false;

  constructor(private readonly o: DockerRuntimeOptions) {
    this.docker = o.docker;
  }

  async start(): Promise<void> {
    if (this.follow) return;
    this.follow = new AbortController();
    this.following = this.followEngine(this.follow.signal);
  }

  async stop(): Promise<void> {
    this.follow?.abort();
    for (const p of this.probing.values()) p.abort();
    await this.following;
    this.follow = undefined;
  }

  build(req: BuildRequest): Promise<{ image: string; commitSha: string }> {
    return this.docker
      .buildFromGit(buildOptions(req))
      // Run by the id this build answered, never by its tag: nothing anyone tags later can stand in for it.
      .then((b) => ({ image: b.imageId, commitSha: b.commitSha }));
  }

  async ensureImage(ref: string, opts: { signal: AbortSignal; onLine(line: string): void; timeoutMs: number }): Promise<string> {
    validateImageRef(ref);
    // One inspect says both whether it is there and what it is (the id the deployment records).
    const present = await this.docker.inspectImage(ref);
    if (present) return present.id;
    opts.onLine(`pulling ${ref}`);
    await this.docker.pullImage(ref, { signal: opts.signal, onLine: opts.onLine, timeoutMs: opts.timeoutMs });
    const pulled = await this.docker.inspectImage(ref);
    if (!pulled) throw new DockerError('not_found', `image ${ref} is not there after its pull`);
    return pulled.id;
  }

  async imageId(ref: string): Promise<string | null> {
    return (await this.docker.inspectImage(ref))?.id ?? null;
  }

  async prepare(ref: Pick<ReleaseRef, 'appId' | 'orgId'>): Promise<void> {
    const made = this.ensureNetwork(ref);
    this.prepared.set(ref.appId, made);
    await made;
  }

  async startRelease(release: Release, opts: StartOptions): Promise<void> {
    try {
      const network = await this.networkFor(release);
      for (const wave of startOrder(release.services)) {
        await Promise.all(
          wave.flatMap((svc) =>
            Array.from({ length: svc.replicas }, async (_, index) => {
              const name = svc.replicas > 1 ? `${svc.name} #${index + 1}` : svc.name;
              const container = containerName(release, svc.name, index);
              await opts.log(`starting ${name} (${svc.image})`);
              this.starting.add(container);
              try {
                const info = await step(`start of ${name}`, opts.startMs, opts.signal, () => this.run(release, svc, index, network));
                await opts.log(`${name} started (container ${info.id.slice(0, 12)})`);
                // The port as the start just read it: the first probe needs no inspect of its own.
                await this.waitHealthy(info.id, svc, opts.healthMs, opts.signal, info.hostPort);
                this.markHealthy(info.id);
              } finally {
                this.starting.delete(container);
              }
              await opts.log(`${name} is healthy`);
            }),
          ),
        );
      }
    } catch (err) {
      await this.removeRelease(release).catch((e) => this.o.log.warn({ err: e }, 'cleanup of a failed release'));
      throw err;
    }
  }

  async replicas(appId: string, deploymentId?: string): Promise<Replica[]> {
    const labels: Labels = { [LABELS.app]: appId, ...(deploymentId ? { [LABELS.deployment]: deploymentId } : {}) };
    return (await this.docker.listContainers(labels, { all: true })).map((c) => this.toReplica(c));
  }

  async stats(appId: string, deploymentId?: string): Promise<ReplicaStats[]> {
    const labels: Labels = { [LABELS.app]: appId, ...(deploymentId ? { [LABELS.deployment]: deploymentId } : {}) };
    const read = await Promise.all(
      (await this.docker.listContainers(labels)).map(async (c): Promise<ReplicaStats | undefined> => {
        const [usage, info] = await Promise.all([this.docker.containerStats(c.id), this.docker.inspectContainer(c.id)]).catch((err: unknown) => {
          // Removed since it was listed (a rollout retiring it): no longer one of the app's replicas.
          if (err instanceof DockerError && err.code === 'not_found') return [null, null] as const;
          throw err;
        });
        // Stopped since it was listed, or between two restart attempts: no reading to give.
        if (!usage || !info?.running) return undefined;
        const r = this.toReplica(c);
        return {
          replicaId: c.id,
          service: r.service,
          index: r.index,
          cpuPercent: usage.cpuPercent,
          memoryBytes: usage.memoryBytes,
          memoryLimitBytes: usage.memoryLimitBytes,
          // The engine counts only its restart policy's restarts, and from the last explicit start on; this process
          // counts every start after a death it saw (a killed replica the reconciler started again), but only since
          // it began following the engine. Each misses some of the other's.
          restarts: Math.max(info.restartCount ?? 0, this.restartsSeen.get(c.id) ?? 0),
          startedAt: info.startedAt ?? c.createdAt,
        };
      }),
    );
    return read.filter((x): x is ReplicaStats => x !== undefined).sort((a, b) => a.service.localeCompare(b.service) || a.index - b.index);
  }

  async repair(release: Release, missing: { service: string; index: number }[], stopped: Replica[]): Promise<void> {
    const network = await this.ensureNetwork(release);
    for (const r of stopped) await this.docker.removeContainer(r.id);
    const todo = [...missing, ...stopped.map((r) => ({ service: r.service, index: r.index }))];
    await Promise.all(
      todo.map(async ({ service, index }) => {
        const svc = release.services.find((s) => s.name === service);
        if (!svc) return;
        const info = await this.run(release, svc, index, network);
        // Routed as soon as it answers; the probe runs in the background like after any start.
        this.probe(info.id, svc.port, svc.healthPath);
      }),
    );
  }

  async restartStopped(replicas: Replica[]): Promise<Replica[]> {
    const left: Replica[] = [];
    for (const r of replicas) {
      try {
        await this.docker.startContainer(r.id);
      } catch (err) {
        // The engine may be restarting it itself (`docker restart`): that is as good as our start.
        if ((await this.docker.inspectContainer(r.id).catch(() => null))?.running) continue;
        // Secret files this process does not hold, or a container the engine will not start: recreate instead.
        this.o.log.debug({ err, id: r.id }, 'start of a stopped replica failed; it will be recreated');
        left.push(r);
      }
    }
    return left;
  }

  async removeReplicas(ids: string[]): Promise<void> {
    for (const id of ids) {
      this.forget(id);
      await this.docker.removeContainer(id);
    }
  }

  async holdSecretFiles(release: Release): Promise<number> {
    let held = 0;
    for (const r of await this.replicas(release.appId, release.deploymentId)) {
      const files = release.services.find((s) => s.name === r.service)?.secretFiles ?? {};
      if (!Object.keys(files).length) continue;
      await this.docker.holdSecretFiles(r.id, files);
      held++;
    }
    return held;
  }

  async stopApp(appId: string): Promise<void> {
    const all = await this.docker.listContainers({ [LABELS.app]: appId }, { all: true });
    for (const c of all) this.forget(c.id);
    await Promise.all(all.map((c) => this.docker.stopContainer(c.id, 10)));
  }

  async retireOthers(appId: string, keepDeploymentId: string, drainMs: number): Promise<number> {
    const old = (await this.docker.listContainers({ [LABELS.app]: appId }, { all: true })).filter((c) => c.labels[LABELS.deployment] !== keepDeploymentId);
    if (old.length && drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
    for (const c of old) this.forget(c.id);
    await Promise.all(
      old.map(async (c) => {
        await this.docker.stopContainer(c.id, 10).catch(() => {});
        await this.docker.removeContainer(c.id);
      }),
    );
    return old.length;
  }

  async removeRelease(ref: ReleaseRef): Promise<void> {
    const all = await this.docker.listContainers({ [LABELS.app]: ref.appId, [LABELS.deployment]: ref.deploymentId }, { all: true });
    await this.removeReplicas(all.map((c) => c.id));
  }

  async removeApp(appId: string): Promise<void> {
    this.prepared.delete(appId);
    for (const c of await this.docker.listContainers({ [LABELS.app]: appId }, { all: true })) this.forget(c.id);
    await this.docker.removeByLabels({ [LABELS.app]: appId }, { volumes: true, images: true });
  }

  async appsOnRuntime(orgIds: Set<string>): Promise<Set<string>> {
    const found = new Set<string>();
    const ours = (l: Labels) => orgIds.has(l[LABELS.org] ?? '') && l[LABELS.app];
    for (const c of await this.docker.listContainers({ [LABELS.managed]: 'true' }, { all: true })) if (ours(c.labels)) found.add(c.labels[LABELS.app]!);
    for (const n of await this.docker.listNetworks({ [LABELS.managed]: 'true' })) if (ours(n.labels)) found.add(n.labels[LABELS.app]!);
    return found;
  }

  pruneImages(appId: string, keep: number, protect: string[]): Promise<string[]> {
    return this.docker.pruneImages({ [LABELS.app]: appId }, keep, protect);
  }

  logs(replicaId: string, opts: { tail: number }) {
    return this.docker.logs(replicaId, { tail: opts.tail });
  }

  followLogs(replicaId: string, opts: { signal: AbortSignal; tail?: number; since?: number }) {
    return this.docker.followLogs(replicaId, { ...opts, followRestarts: true });
  }

  /** One engine is one node: a manager of itself, always schedulable while it answers. */
  async nodes(): Promise<RuntimeNode[]> {
    const [engine, running] = await Promise.all([this.docker.engineInfo(), this.docker.listContainers({ [LABELS.managed]: 'true' })]);
    const apps = new Set(running.filter((c) => c.running && c.labels[LABELS.app]).map((c) => c.labels[LABELS.app]));
    return [
      {
        id: engine.id,
        hostname: engine.name,
        role: 'manager',
        state: 'ready',
        availability: 'active',
        cpus: engine.cpus,
        memoryMb: Math.round(engine.memoryBytes / (1024 * 1024)),
        apps: apps.size,
      },
    ];
  }

  // ---- internals

  private ensureNetwork(ref: Pick<ReleaseRef, 'appId' | 'orgId'>): Promise<string> {
    return this.docker.ensureNetwork(networkName(ref.appId), releaseLabels(ref, false));
  }

  /** The network prepare() made for this start, else made now; a prepare that failed is tried again here, where its error belongs. */
  private networkFor(release: Release): Promise<string> {
    const made = this.prepared.get(release.appId);
    this.prepared.delete(release.appId);
    return made ? made.catch(() => this.ensureNetwork(release)) : this.ensureNetwork(release);
  }

  private run(release: Release, svc: ReleaseService, index: number, network: string): Promise<ContainerInfo> {
    const labels: Labels = {
      ...releaseLabels(release),
      [LABELS.service]: svc.name,
      [EXTRA_LABELS.replica]: String(index),
      ...(svc.port !== undefined ? { [EXTRA_LABELS.port]: String(svc.port) } : {}),
      ...(svc.healthPath ? { [EXTRA_LABELS.healthPath]: svc.healthPath } : {}),
    };
    return this.docker.runContainer({
      name: containerName(release, svc.name, index),
      // An image the platform built runs by the id recorded for this org's deployment (the driver still checks the
      // image's org label); a tenant's image by its name (refused at /deploy if it is an id).
      ...(isImageId(svc.image) ? { image: builtImageTag(release.appId, release.deploymentId, svc.name), imageId: svc.image } : { image: svc.image }),
      ...(svc.command ? { command: svc.command } : {}),
      env: svc.env,
      ...(svc.port !== undefined ? { port: svc.port } : {}),
      labels,
      cpu: svc.cpu,
      memoryMb: svc.memoryMb,
      network,
      aliases: [svc.name],
      volumes: svc.volumes.map((v) => ({ name: volumeName(release.appId, v.name), path: v.path })),
      secretFiles: svc.secretFiles,
    });
  }

  private waitHealthy(id: string, svc: { port?: number; healthPath?: string }, timeoutMs: number, signal: AbortSignal, hostPort?: number): Promise<void> {
    return this.docker.waitHealthy(id, {
      ...(svc.port !== undefined ? { port: svc.port, http: true, ...(hostPort !== undefined ? { hostPort } : {}) } : {}),
      ...(svc.healthPath ? { path: svc.healthPath } : {}),
      timeoutMs,
      signal,
    });
  }

  private markHealthy(id: string): void {
    this.healthyAt.set(id, Date.now());
  }

  private forget(id: string): void {
    this.healthyAt.delete(id);
    this.probing.get(id)?.abort();
    this.probing.delete(id);
  }

  private toReplica(c: ContainerInfo): Replica {
    const r: Replica = {
      id: c.id,
      appId: c.labels[LABELS.app] ?? '',
      deploymentId: c.labels[LABELS.deployment] ?? '',
      service: c.labels[LABELS.service] ?? 'app',
      index: Number(c.labels[EXTRA_LABELS.replica] ?? 0),
      state: c.state,
      running: c.running,
      healthy: c.running && this.healthyAt.has(c.id) && !this.engineDown,
      createdAt: c.createdAt,
    };
    if (c.hostPort) r.endpoint = { host: '127.0.0.1', port: c.hostPort };
    return r;
  }

  /** In the background: once the container answers, it is routable again (announced as replica-up). */
  private probe(id: string, port: number | undefined, healthPath: string | undefined, labels?: Labels): void {
    this.probing.get(id)?.abort();
    const ac = new AbortController();
    this.probing.set(id, ac);
    void this.waitHealthy(id, { ...(port !== undefined ? { port } : {}), ...(healthPath ? { healthPath } : {}) }, this.o.probeTimeoutMs ?? 60_000, ac.signal)
      .then(async () => {
        if (ac.signal.aborted) return;
        this.markHealthy(id);
        const l = labels ?? (await this.docker.inspectContainer(id))?.labels ?? {};
        this.emit({ type: 'replica-up', appId: l[LABELS.app] ?? '', deploymentId: l[LABELS.deployment] ?? '', replicaId: id });
      })
      .catch((err: unknown) => {
        if (!ac.signal.aborted) this.o.log.debug({ err, id }, 'a restarted replica did not answer');
      })
      .finally(() => {
        if (this.probing.get(id) === ac) this.probing.delete(id);
      });
  }

  private onEngineEvent(e: EngineEvent): void {
    const appId = e.labels[LABELS.app];
    const deploymentId = e.labels[LABELS.deployment];
    if (!appId || !deploymentId) return;
    if (e.action === 'die') this.downSeen.add(e.containerId);
    else if (e.action === 'start' && this.downSeen.delete(e.containerId)) this.restartsSeen.set(e.containerId, (this.restartsSeen.get(e.containerId) ?? 0) + 1);
    else if (e.action === 'destroy') {
      this.downSeen.delete(e.containerId);
      this.restartsSeen.delete(e.containerId);
    }
    if (e.action === 'start') {
      // Our own start: startRelease/repair already proved (or is proving) it; only a later start is news.
      if (e.name && this.starting.has(e.name)) return;
      const at = this.healthyAt.get(e.containerId);
      if (at !== undefined && e.time <= at) return;
      this.healthyAt.delete(e.containerId);
      const port = e.labels[EXTRA_LABELS.port] ? Number(e.labels[EXTRA_LABELS.port]) : undefined;
      this.probe(e.containerId, port, e.labels[EXTRA_LABELS.healthPath], e.labels);
      return;
    }
    if (DOWN_ACTIONS.has(e.action)) {
      if (e.action === 'kill') this.killedAt.set(e.containerId, e.time);
      const wasHealthy = this.healthyAt.delete(e.containerId);
      this.probing.get(e.containerId)?.abort();
      this.probing.delete(e.containerId);
      // A death that follows a kill (docker kill, stop, restart, rm -f, ours or an operator's) is not the app
      // failing: it is announced as `killed`, which never counts toward a crash loop.
      const killed = e.action === 'die' && e.time - (this.killedAt.get(e.containerId) ?? -Infinity) < 15_000;
      if (e.action === 'die' || e.action === 'destroy') this.killedAt.delete(e.containerId);
      if (wasHealthy || e.action === 'destroy' || e.action === 'die')
        this.emit({ type: 'replica-down', appId, deploymentId, replicaId: e.containerId, action: killed ? 'killed' : e.action, ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}) });
    }
  }

  /** Follows the engine for as long as the runtime runs; any gap ends in a resync. */
  private async followEngine(signal: AbortSignal): Promise<void> {
    const min = this.o.reconnectMinMs ?? 200;
    const max = this.o.reconnectMaxMs ?? 5_000;
    let backoff = min;
    let since = Date.now();
    let first = true;
    while (!signal.aborted) {
      try {
        await this.docker.ping();
        const stream = this.docker.events({ since, signal });
        if (this.engineDown || !first) {
          this.engineDown = false;
          // Whatever ran before the gap may have restarted on other ports: prove every running replica again.
          await this.reprobeAll();
          this.emit({ type: 'resync' });
        }
        first = false;
        for await (const e of stream) {
          since = Math.max(since, e.time);
          backoff = min;
          this.onEngineEvent(e);
        }
      } catch (err) {
        if (signal.aborted) break;
        const reachable = await this.docker.ping().then(() => true, () => false);
        if (!reachable && !this.engineDown) {
          this.engineDown = true;
          this.healthyAt.clear();
          this.emit({ type: 'engine-down', reason: err instanceof DockerError || err instanceof Error ? err.message : String(err) });
        }
        first = false;
      }
      if (signal.aborted) break;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, max);
    }
  }

  private async reprobeAll(): Promise<void> {
    const all = await this.docker.listContainers({ [LABELS.managed]: 'true' }, { all: false });
    for (const c of all) {
      if (!c.labels[LABELS.app]) continue;
      this.healthyAt.delete(c.id);
      const port = c.labels[EXTRA_LABELS.port] ? Number(c.labels[EXTRA_LABELS.port]) : undefined;
      this.probe(c.id, port, c.labels[EXTRA_LABELS.healthPath], c.labels);
    }
  }

  async proveRunning(replicas: Replica[], timeoutMs: number): Promise<void> {
    await Promise.all(
      replicas
        .filter((r) => r.running && !this.healthyAt.has(r.id))
        .map(async (r) => {
          const info = await this.docker.inspectContainer(r.id);
          const l = info?.labels ?? {};
          const port = l[EXTRA_LABELS.port] ? Number(l[EXTRA_LABELS.port]) : undefined;
          const ac = new AbortController();
          try {
            await this.waitHealthy(r.id, { ...(port !== undefined ? { port } : {}), ...(l[EXTRA_LABELS.healthPath] ? { healthPath: l[EXTRA_LABELS.healthPath] } : {}) }, timeoutMs, ac.signal);
            this.markHealthy(r.id);
          } catch {
            // Not answering yet: the background probe routes it when it does.
            this.probe(r.id, port, l[EXTRA_LABELS.healthPath], l);
          }
        }),
    );
  }

  private emit(e: RuntimeEvent): void {
    this.o.events.emit('runtime', e);
  }
}
