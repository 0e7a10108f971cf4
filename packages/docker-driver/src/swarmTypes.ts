// What the Swarm runtime asks of a manager engine: services, their tasks, secrets, overlays, nodes, and the registry
// images go through. Speaks Docker's Swarm API (engine 20.10, API 1.41) and nothing of releases or apps.
import type { Labels, LogLine, RegistryAuth } from './types.js';

export interface SwarmNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  /** The engine's node state: ready, down, unknown, disconnected. */
  state: string;
  /** active, pause, drain. */
  availability: string;
  /** The address other nodes (and the ingress) reach this node at. */
  addr: string;
  cpus: number;
  memoryBytes: number;
  leader: boolean;
}

export interface SwarmTask {
  id: string;
  serviceId: string;
  nodeId: string;
  /** 1-based, stable across a replica's replacements. */
  slot: number;
  /** What the orchestrator wants: running, shutdown, … */
  desiredState: string;
  /** What the task is: new, pending, assigned, accepted, preparing, starting, running, complete, shutdown, failed, rejected, orphaned, remove. */
  state: string;
  message: string;
  error?: string;
  containerId?: string;
  exitCode?: number;
  /** The host-mode published port of the routed target port on the task's node. */
  hostPort?: number;
  createdAt: string;
  /** When the task last changed state. */
  updatedAt: string;
}

export interface SwarmServiceInfo {
  id: string;
  name: string;
  labels: Labels;
  replicas: number;
  version: number;
  /** The service's spec as the engine holds it (for updates). */
  spec: Record<string, unknown>;
}

export interface SwarmServiceSpec {
  name: string;
  /** `registry/repo@sha256:…` (or a name when no digest can be had): what every node pulls. */
  image: string;
  command?: string[];
  env: Record<string, string>;
  labels: Labels;
  replicas: number;
  /** Cores: the limit, and the reservation that places tasks on nodes with room. */
  cpu?: number;
  memoryMb?: number;
  pidsLimit?: number;
  network: string;
  aliases: string[];
  /** The container port published in host mode on the task's node (a port the engine picks). */
  port?: number;
  secrets: { id: string; name: string; file: string }[];
  volumes: { name: string; path: string }[];
  /** Placement constraints, e.g. `node.id==…`. */
  constraints: string[];
  stopGraceSeconds: number;
  auth?: RegistryAuth;
}

export interface SwarmDriver {
  /** The engine is a Swarm manager; the swarm's id. Throws `not_found` when it is not. */
  swarmId(): Promise<string>;
  listNodes(): Promise<SwarmNode[]>;
  /** `mtu`: for paths between nodes below 1500 bytes (VPNs): VXLAN needs 50 bytes of each packet. */
  ensureOverlay(name: string, labels: Labels, opts?: { mtu?: number }): Promise<string>;
  listOverlays(labels: Labels): Promise<{ id: string; name: string; labels: Labels }[]>;
  /** Idempotent; an overlay still attached to tasks being shut down is retried until `timeoutMs`. */
  removeOverlay(id: string, timeoutMs?: number): Promise<void>;
  createSecret(name: string, data: string, labels: Labels): Promise<string>;
  listSecrets(labels: Labels): Promise<{ id: string; name: string; labels: Labels }[]>;
  /** Idempotent; a secret still referenced by a service being removed is retried until `timeoutMs`. */
  removeSecret(id: string, timeoutMs?: number): Promise<void>;
  createService(spec: SwarmServiceSpec): Promise<string>;
  listServices(labels: Labels): Promise<SwarmServiceInfo[]>;
  scaleService(id: string, replicas: number): Promise<void>;
  /** Idempotent. */
  removeService(id: string): Promise<void>;
  /** Tasks of the given services (all of them when `serviceIds` is empty), newest first. */
  listTasks(serviceIds: string[]): Promise<SwarmTask[]>;
  /** Tags a local image `repo:tag` and pushes it; answers the registry's digest (`sha256:…`). */
  pushImage(localRef: string, repo: string, tag: string, o?: { auth?: RegistryAuth; signal?: AbortSignal; timeoutMs?: number; onLine?: (l: string) => void }): Promise<string>;
  /** The digest the registry has for `ref` now (`sha256:…`), or null when it has no such image. */
  registryDigest(ref: string, auth?: RegistryAuth): Promise<string | null>;
  taskLogs(taskId: string, opts: { tail: number }): Promise<LogLine[]>;
  /** Follows one task's output until it ends (or the signal aborts); `since` in Unix seconds. */
  followTaskLogs(taskId: string, opts: { signal?: AbortSignal; tail?: number; since?: number }): AsyncIterable<LogLine>;
}
