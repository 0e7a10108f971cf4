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
  image: string;
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
}

export interface ImageInfo {
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

export interface DockerDriver {
  ping(): Promise<void>;
  pullImage(
    ref: string,
    opts?: { auth?: RegistryAuth; onLine?: (line: string) => void; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<void>;
  imageExists(ref: string): Promise<boolean>;
  buildFromGit(opts: BuildFromGitOptions): Promise<{ imageId: string; tag: string; commitSha: string }>;
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
  logs(id: string, opts?: { tail?: number }): Promise<LogLine[]>;
  followLogs(id: string, opts?: FollowLogsOptions): AsyncIterable<LogLine>;
  listContainers(labels: Labels, opts?: { all?: boolean }): Promise<ContainerInfo[]>;
  listNetworks(labels: Labels): Promise<{ id: string; name: string; labels: Labels }[]>;
  listVolumes(labels: Labels): Promise<{ name: string; labels: Labels }[]>;
  /** Containers, networks, volumes and (by default) images carrying all `labels`; idempotent. */
  removeByLabels(labels: Labels, opts?: { images?: boolean; volumes?: boolean }): Promise<void>;
  /** Stops background work (the restart watcher that re-delivers secret files). */
  close(): Promise<void>;
}
