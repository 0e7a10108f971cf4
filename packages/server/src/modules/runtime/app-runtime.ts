// The runtime: what the deployment pipeline, the reconciler and the log streams know of where apps run. It speaks
// in releases (one deployment's services, each with its replicas), never in engine calls, so a single Docker
// engine (DockerRuntime) and a Swarm cluster can stand behind it alike.
import type { LogLine } from '@cynchro/docker-driver';

export interface ReleaseRef {
  appId: string;
  orgId: string;
  deploymentId: string;
}

export interface ReleaseService {
  name: string;
  image: string;
  command?: string[];
  /** Plain values, decrypted in memory for this start only. */
  env: Record<string, string>;
  /** KEY → content, mounted from memory at /run/secrets/KEY. */
  secretFiles: Record<string, string>;
  /** The routed container port, if any. */
  port?: number;
  /** HTTP path that must answer 2xx/3xx; without it the port accepting connections is healthy. */
  healthPath?: string;
  cpu: number;
  memoryMb: number;
  /** Named volumes of the app (the runtime names them per app; they outlive releases). */
  volumes: { name: string; path: string }[];
  replicas: number;
  dependsOn: string[];
}

export interface Release extends ReleaseRef {
  services: ReleaseService[];
}

export interface Replica {
  /** The container (or task) id. */
  id: string;
  appId: string;
  deploymentId: string;
  service: string;
  /** 0-based index within the service. */
  index: number;
  /** The engine's state: running, restarting, exited, created, dead, … */
  state: string;
  running: boolean;
  /** Running and seen answering since its latest start: the ingress may send it traffic. */
  healthy: boolean;
  /** Where the ingress reaches it (127.0.0.1 and a published port on one engine). */
  endpoint?: { host: string; port: number };
  createdAt: string;
}

/** A running replica's resource usage (GET /apps/{id}/stats). */
export interface ReplicaStats {
  replicaId: string;
  service: string;
  /** 0-based index within the service. */
  index: number;
  /** As `docker stats`: one busy core is 100. */
  cpuPercent: number;
  /** Without the reclaimable page cache, as `docker stats`. */
  memoryBytes: number;
  memoryLimitBytes: number;
  /**
   * How often it came back after going down: the engine's restart-policy count, or what the runtime saw itself
   * (restarts the engine does not count, e.g. the reconciler starting a killed replica), whichever is larger.
   */
  restarts: number;
  /** ISO 8601: the start of its current run. */
  startedAt: string;
}

/** A machine of the runtime (GET /admin/nodes): one engine is one node; a Swarm cluster has one per member. */
export interface RuntimeNode { id: string; hostname: string; role: 'manager' | 'worker'; state: string; availability: string; cpus: number; memoryMb: number; apps: number }

/** What the runtime observed, normalised for the reconciler. */
export type RuntimeEvent =
  /** A replica answers after a (re)start: route it. */
  | { type: 'replica-up'; appId: string; deploymentId: string; replicaId: string }
  /**
   * A replica stopped serving: unroute it at once, then repair. `action` is `die` for a crash (the app exited by
   * itself), `oom` when the kernel killed it for memory, `killed` when a kill signal came first (docker kill, stop,
   * restart, rm -f), or the engine's action otherwise (stop, destroy, …).
   */
  | { type: 'replica-down'; appId: string; deploymentId: string; replicaId: string; action: string; exitCode?: number }
  /** The runtime lost sight of the engine and is back: anything may have happened meanwhile. */
  | { type: 'resync' }
  /** The engine does not answer: nothing it ran can be trusted to serve. */
  | { type: 'engine-down'; reason: string };

export interface BuildRequest {
  ref: ReleaseRef;
  service: string;
  repoUrl: string;
  branch: string;
  commit?: string;
  dockerfile: string;
  context: string;
  token?: string;
  allowHosts: string[];
  onLine(line: string): void;
  signal: AbortSignal;
  timeoutMs: number;
}

export interface StartOptions {
  signal: AbortSignal;
  log(text: string): Promise<void>;
  startMs: number;
  healthMs: number;
}

export interface AppRuntime {
  readonly kind: 'docker' | 'swarm';
  /** Begins following the engine; events arrive on Deps.events as 'runtime'. */
  start(): Promise<void>;
  stop(): Promise<void>;
  build(req: BuildRequest): Promise<{ image: string; commitSha: string }>;
  /** Pulls the image unless present; answers its full id as the runtime has it now. */
  ensureImage(ref: string, opts: { signal: AbortSignal; onLine(line: string): void; timeoutMs: number }): Promise<string>;
  /** The full id of an image present on the runtime (by name or id), or null when it is not there. */
  imageId(ref: string): Promise<string | null>;
  /**
   * Makes ready what any release of the app needs whatever its images (on one engine, the app's network), so a
   * deployment can do it while its images are checked, pulled or built. Optional for the caller: startRelease
   * makes it ready too when it was not.
   */
  prepare(ref: Pick<ReleaseRef, 'appId' | 'orgId'>): Promise<void>;
  /**
   * Starts every replica of every service in dependsOn waves, each wave healthy before the next; on failure
   * removes what it started and throws. Nothing of another release is touched.
   */
  startRelease(release: Release, opts: StartOptions): Promise<void>;
  /** The app's replicas (of one release when `deploymentId` is given), stopped ones included. */
  replicas(appId: string, deploymentId?: string): Promise<Replica[]>;
  /** One reading of the resource usage of the app's running replicas (of one release when `deploymentId` is given). */
  stats(appId: string, deploymentId?: string): Promise<ReplicaStats[]>;
  /** Brings the named replicas of a release back: starts a stopped one, recreates a missing or broken one. */
  repair(release: Release, missing: { service: string; index: number }[], stopped: Replica[]): Promise<void>;
  /** Starts replicas that only need a start (their spec and secrets are still held); answers those that need more. */
  restartStopped(replicas: Replica[]): Promise<Replica[]>;
  removeReplicas(ids: string[]): Promise<void>;
  /**
   * Replicas found running that this process never saw start (after its own restart): each is probed, and those
   * that answer within `timeoutMs` are endpoints at once; the others are once they answer (replica-up).
   */
  proveRunning(replicas: Replica[], timeoutMs: number): Promise<void>;
  /** Hands the release's secret files to the runtime again (it keeps them only in memory) so restarts refill them. */
  holdSecretFiles(release: Release): Promise<number>;
  /** Stops every replica of the app (kept, so logs stay readable). */
  stopApp(appId: string): Promise<void>;
  /** After a switch: lets other releases' replicas finish what they were sent for `drainMs`, then removes them. */
  retireOthers(appId: string, keepDeploymentId: string, drainMs: number): Promise<number>;
  removeRelease(ref: ReleaseRef): Promise<void>;
  /** Everything of the app: replicas, network, volumes, images. */
  removeApp(appId: string): Promise<void>;
  /** Apps that have anything on the runtime, among the given orgs' (for cleaning up after deleted apps). */
  appsOnRuntime(orgIds: Set<string>): Promise<Set<string>>;
  /** Removes built images beyond the newest `keep` of the app, never those in `protect` or in use. */
  pruneImages(appId: string, keep: number, protect: string[]): Promise<string[]>;
  logs(replicaId: string, opts: { tail: number }): Promise<LogLine[]>;
  /** The runtime's machines, each with how many apps have a running replica on it. */
  nodes(): Promise<RuntimeNode[]>;
  followLogs(replicaId: string, opts: { signal: AbortSignal; tail?: number; since?: number }): AsyncIterable<LogLine>;
}
