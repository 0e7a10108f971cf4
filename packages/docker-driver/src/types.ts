export type Labels = Record<string, string>;

/** The labels of CONTRACT.md: everything the platform creates in Docker carries them. */
export const LABELS = {
  managed: 'cloud.cynchro.managed',
  org: 'cloud.cynchro.org-id',
  app: 'cloud.cynchro.app-id',
  deployment: 'cloud.cynchro.deployment-id',
  service: 'cloud.cynchro.service',
} as const;

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** ISO 8601 (the engine's nanosecond precision is kept). */
  timestamp: string;
  text: string;
  containerId?: string;
}

export interface ContainerSpec {
  name: string;
  /**
   * The image by name (`[registry/]repo[:tag][@sha256:digest]`, see validateImageRef): a bare id, an id prefix or
   * `sha256:…` is refused with `invalid_ref`, as the engine would resolve those against every local image. With
   * `imageId` it is not resolved at all, only recorded (the tag the platform built it as, for people to read).
   */
  image: string;
  /**
   * The trusted way to run an image the platform built: its full id (`sha256:` + 64 hex, never a prefix) as the
   * build answered it (`buildFromGit`/`buildFromDirectory` → `imageId`) and the server recorded for that
   * deployment. The container is created from exactly that image, whatever its tags say now (ContainerInfo.image
   * then reports the id). Never fill it from anything a tenant sent: tenant input goes in `image`, which refuses
   * ids. Even so the driver checks that the image carries this spec's `cloud.cynchro.org-id` label (builds get it
   * from their `labels`), so the id of another org's image is refused (`invalid_ref`).
   *
   * Both ways: an image carrying a `cloud.cynchro.org-id` label runs only in a container whose spec carries the
   * same one (images without that label, such as public images, run for anyone).
   */
  imageId?: string;
  command?: string[];
  env?: Record<string, string>;
  /** Container port; published on 127.0.0.1 at a random host port. */
  port?: number;
  labels: Labels;
  /** Cores (→ NanoCpus). */
  cpu?: number;
  /** Megabytes (→ Memory, and MemorySwap so the limit is not doubled by swap). */
  memoryMb?: number;
  network?: string;
  /** Network aliases on `network` (service-name DNS for sibling services). */
  aliases?: string[];
  /** Named volumes, created with the spec's labels (minus the deployment label) when missing. */
  volumes?: { name: string; path: string }[];
  /** KEY → content, delivered at /run/secrets/KEY (tmpfs, mode 0400) through the engine API. */
  secretFiles?: Record<string, string>;
  /** Defaults to 512. */
  pidsLimit?: number;
  // Always applied, not configurable: every capability dropped but CONTAINER_CAPABILITIES, no-new-privileges, the
  // CONTAINER_NOFILE_LIMIT ulimit, ports published on 127.0.0.1 only.
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  labels: Labels;
  /** The engine's state: created, running, restarting, exited, paused, dead, removing. */
  state: string;
  running: boolean;
  /** The 127.0.0.1 port the container port is published on. */
  hostPort?: number;
  createdAt: string;
  // The run-state details below come from a container inspect: inspectContainer (and runContainer and
  // recreateContainer, which answer with one) fill them; listContainers leaves them undefined, as the engine's
  // list does not report them.
  /** The last run's exit code; 0 while running (the engine resets it on every start). */
  exitCode?: number;
  /** Whether the last run ended because the kernel's OOM killer struck. */
  oomKilled?: boolean;
  /** Restarts done by the restart policy since the last explicit start (`docker start`/`restart` reset it). */
  restartCount?: number;
  /** The restart policy is between two attempts (a crash loop); `running` is false meanwhile. */
  restarting?: boolean;
  /** ISO 8601; the start of the current or last run. Undefined if it never started. */
  startedAt?: string;
  /** ISO 8601; the end of the last run. Undefined if no run ended yet. */
  finishedAt?: string;
}

/** One reading of a running container's resource usage (DockerDriver.containerStats), as `docker stats` shows it. */
export interface ContainerStats {
  /**
   * (Δ container CPU time / Δ host CPU time) × online CPUs × 100, as `docker stats` computes it, over the interval
   * since an earlier reading of the container (one engine sample to 30 s before; otherwise the engine's own ~1 s):
   * one busy core is 100.
   */
  cpuPercent: number;
  /** Usage without the reclaimable page cache (minus `total_inactive_file` on cgroup v1, `inactive_file` on v2). */
  memoryBytes: number;
  /** The container's memory limit (the host's memory when it has none). */
  memoryLimitBytes: number;
  /** ISO 8601: when the engine read these figures. */
  readAt: string;
}

/** The container actions the platform reacts to; `health` stands for the engine's `health_status: …` actions. */
export type EngineEventAction = 'create' | 'start' | 'die' | 'kill' | 'stop' | 'destroy' | 'oom' | 'restart' | 'health';

/**
 * One container event of the engine. What the engine emits for the usual operations (Docker 20.10):
 * run → create, start · stop → kill, die, stop · `docker kill` → kill, die (137, no policy restart) ·
 * crash → die, then start when the restart policy brings it back · `docker restart` → kill, die, stop, start,
 * restart · `docker rm -f` → kill, die, destroy (just destroy when it was not running). Every start publishes
 * the port anew, usually on a different host port.
 */
export interface EngineEvent {
  action: EngineEventAction;
  containerId: string;
  /** The container's name at the time (without the leading slash); recreateContainer's new container is created under a temporary name. */
  name?: string;
  /** The container's labels as the event carries them (the spec label dropped). */
  labels: Labels;
  /** Milliseconds since the epoch (from the engine's nanosecond stamp); pass it back as `since` to resume. */
  time: number;
  /** For die: the exit code (137 after SIGKILL). */
  exitCode?: number;
  /** For kill: the signal number sent (9 for `docker kill`, 15 for a stop). */
  signal?: number;
  /** For health: 'healthy' | 'unhealthy' | 'starting'. */
  health?: string;
}

export interface EngineEventsOptions {
  /**
   * Milliseconds since the epoch, inclusive (so an event whose `time` is passed back is delivered again): the
   * engine's past events from then on come first. It holds only a short in-memory backlog, lost when dockerd
   * restarts, so a caller resuming after a break must still re-read the containers' state.
   */
  since?: number;
  /**
   * Only containers carrying all these labels. The managed label is always part of the filter and defaults to
   * `cloud.cynchro.managed=true`; pass it to watch another value (tests use their own).
   */
  labels?: Labels;
  /** Aborting ends the iteration quietly and closes the request. */
  signal?: AbortSignal;
}

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress?: string;
}

export interface BuildFromGitOptions {
  repoUrl: string;
  branch: string;
  /** Full or abbreviated sha; a full 40-hex sha is fetched when it is not the branch head. */
  commit?: string;
  /** Relative to `context` (compose semantics); defaults to `Dockerfile`. */
  dockerfile?: string;
  /** Relative to the repository root; defaults to `.`. */
  context?: string;
  token?: string;
  tag: string;
  labels: Labels;
  /** `host[:port]` that may be reached over plain http or on private addresses (added to the driver's list). */
  allowHosts?: string[];
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** The whole clone + build; defaults to 20 minutes. */
  timeoutMs?: number;
  /** Cores each RUN step may use; defaults to BUILD_DEFAULT_CPU (1). */
  cpu?: number;
  /** Memory of each RUN step in megabytes (no swap on top); defaults to BUILD_DEFAULT_MEMORY_MB (2048). */
  memoryMb?: number;
}

export interface RemoteHeadOptions {
  repoUrl: string;
  branch: string;
  token?: string;
  /** `host[:port]` that may be reached over plain http or on private addresses (added to the driver's list). */
  allowHosts?: string[];
  signal?: AbortSignal;
  /** Defaults to 15 seconds. */
  timeoutMs?: number;
}

export interface BuildFromDirectoryOptions {
  dir: string;
  /** Relative to `dir`; defaults to `Dockerfile`. */
  dockerfile?: string;
  tag: string;
  labels: Labels;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** As in BuildFromGitOptions. */
  cpu?: number;
  /** As in BuildFromGitOptions. */
  memoryMb?: number;
}

export interface ImageInfo {
  /** The full id: `sha256:` + 64 hex. */
  id: string;
  tags: string[];
  labels: Labels;
  createdAt: string;
}

export interface WaitHealthyOptions {
  /** The container port to probe; defaults to the spec's published port. */
  port?: number;
  /** When given, an HTTP GET must answer 2xx/3xx; otherwise a TCP connection must be accepted and held. */
  path?: string;
  /**
   * Without `path`: the port serves HTTP (it sits behind the HTTP ingress), so the TCP probe also sends a HEAD
   * request and any answer counts at once. A connection that stays open still counts after the hold.
   */
  http?: boolean;
  /**
   * Where `port` is published, as the caller has just read it (runContainer answers it): the first probe goes out
   * at once instead of after an inspect. Later rounds read it again, since a restart can move it.
   */
  hostPort?: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface FollowLogsOptions {
  signal?: AbortSignal;
  /** Unix seconds. */
  since?: number;
  tail?: number;
  /** Keep following across restarts (engine restart policy, stop/start); ends only when the container is removed or on abort. */
  followRestarts?: boolean;
}

/** The engine and the machine it runs on (`GET /info`). */
export interface EngineInfo {
  /** The engine's own ID (stable across its restarts; not the Swarm node ID). */
  id: string;
  /** The host name of the machine the engine runs on. */
  name: string;
  /** CPUs the engine may use. */
  cpus: number;
  /** The machine's total memory. */
  memoryBytes: number;
}

export interface DockerDriver {
  ping(): Promise<void>;
  /** Who the engine is and what machine it runs on (GET /admin/nodes describes it as a node). */
  engineInfo(): Promise<EngineInfo>;
  pullImage(
    ref: string,
    opts?: { auth?: RegistryAuth; onLine?: (line: string) => void; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<void>;
  /** `ref` is a name (validateImageRef: ids and id prefixes are refused with `invalid_ref`), as for pullImage. */
  imageExists(ref: string): Promise<boolean>;
  /**
   * An image by name (validateImageRef) or by full id (`sha256:` + 64 hex, never a prefix); null when there is no
   * such image. Its labels say which org it was built for (`cloud.cynchro.org-id`).
   */
  inspectImage(ref: string): Promise<ImageInfo | null>;
  /**
   * Clone and build. `imageId` is the full id of the image built (`sha256:` + 64 hex): record it and run it through
   * ContainerSpec.imageId. Refused before the engine builds anything (`build_failed`, see dockerfilePolicy.ts): an
   * `ADD` whose source is a URL (or a variable), base or `COPY --from` images named by id, or carrying another
   * org's label than `labels`. RUN steps get `cpu` and `memoryMb` limits; the whole build gets `timeoutMs`.
   */
  buildFromGit(opts: BuildFromGitOptions): Promise<{ imageId: string; tag: string; commitSha: string }>;
  /**
   * Where `refs/heads/<branch>` points on the remote right now (`git ls-remote`, with buildFromGit's URL, host and
   * token rules): the full lower-case sha, or null when the remote has no such branch.
   */
  remoteHead(opts: RemoteHeadOptions): Promise<string | null>;
  /** As buildFromGit, from a local directory. */
  buildFromDirectory(opts: BuildFromDirectoryOptions): Promise<{ imageId: string; tag: string }>;
  listImages(labels: Labels): Promise<ImageInfo[]>;
  removeImage(id: string): Promise<void>;
  /** Keeps the `keep` newest images carrying `labels` plus those whose id or tag is in `protect`, and any in use. */
  pruneImages(labels: Labels, keep: number, protect?: string[]): Promise<string[]>;
  ensureNetwork(name: string, labels: Labels): Promise<string>;
  /** Create, start, then deliver secret files. */
  runContainer(spec: ContainerSpec): Promise<ContainerInfo>;
  inspectContainer(id: string): Promise<ContainerInfo | null>;
  /** The spec a container was created from (env values read back; secret contents only if this driver holds them). */
  containerSpec(id: string): Promise<ContainerSpec | null>;
  /** Idempotent: stopping a stopped or missing container is fine. */
  stopContainer(id: string, timeoutSec?: number): Promise<void>;
  /** Secret files are lost with the tmpfs when a container stops; pass them if this driver did not create it. */
  startContainer(id: string, opts?: { secretFiles?: Record<string, string> }): Promise<void>;
  /**
   * Gives the driver the secret files of a container it did not start (e.g. after a control-plane restart), so
   * engine restarts deliver them again; a running container gets them at once. The keys must be those it was
   * created with.
   */
  holdSecretFiles(id: string, files: Record<string, string>): Promise<void>;
  /** Force; idempotent. Anonymous volumes (the secrets tmpfs) go with it. */
  removeContainer(id: string): Promise<void>;
  /** Same spec, new container (new id, same name). */
  recreateContainer(id: string, opts?: { secretFiles?: Record<string, string> }): Promise<ContainerInfo>;
  waitHealthy(id: string, opts: WaitHealthyOptions): Promise<void>;
  /**
   * The last `tail` lines (default 200), each cut to MAX_LOG_LINE_BYTES (ending `… [truncated N bytes]`), and at
   * most MAX_LOGS_SNAPSHOT_BYTES of text in all (the newest lines are kept).
   */
  logs(id: string, opts?: { tail?: number }): Promise<LogLine[]>;
  /** Lines cut to MAX_LOG_LINE_BYTES, as in logs(). */
  followLogs(id: string, opts?: FollowLogsOptions): AsyncIterable<LogLine>;
  listContainers(labels: Labels, opts?: { all?: boolean }): Promise<ContainerInfo[]>;
  /**
   * One reading of a running container's resource usage from the engine's stats API (never a stream: one-shot reads,
   * see container-stats.ts), or null when it is not running (stopped, created, between restart attempts).
   * `not_found` when there is no such container.
   */
  containerStats(id: string): Promise<ContainerStats | null>;
  /**
   * Follows the engine's container events (filtered on the engine's side). Ends when the signal aborts or the
   * driver closes; throws a DockerError ('engine') when the connection to the engine breaks or the engine ends
   * the stream (dockerd stopping or restarting): reconnect with back-off and `since` = the last event's time.
   */
  events(opts?: EngineEventsOptions): AsyncIterable<EngineEvent>;
  listNetworks(labels: Labels): Promise<{ id: string; name: string; labels: Labels }[]>;
  listVolumes(labels: Labels): Promise<{ name: string; labels: Labels }[]>;
  /** Containers, networks, volumes and (by default) images carrying all `labels`; idempotent. */
  removeByLabels(labels: Labels, opts?: { images?: boolean; volumes?: boolean }): Promise<void>;
  /** Stops background work (the restart watcher that re-delivers secret files) and ends every events() iteration. */
  close(): Promise<void>;
}
