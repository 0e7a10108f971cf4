import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildLimits } from './buildImage.js';
import { checkBuildImages, checkDockerfile, MAX_DOCKERFILE_BYTES } from './dockerfilePolicy.js';
import { DockerError } from './DockerError.js';
import { abortReason } from './engineCall.js';
import { FakeEngineEvents } from './FakeEngineEvents.js';
import { checkImageOrg } from './imagePolicy.js';
import { MAX_LOGS_SNAPSHOT_BYTES, truncateLine } from './lines.js';
import {
  LABELS,
  type ContainerInfo,
  type ContainerSpec,
  type DockerDriver,
  type EngineEvent,
  type EngineEventAction,
  type ImageInfo,
  type Labels,
  type LogLine,
} from './types.js';
import { validateBranch, validateCommit, validateRelativePath, validateRepoUrl } from './validateGitInputs.js';
import { validateImageRef, validateImageRefOrId } from './validateImageRef.js';
import { validateContainerSpec } from './validateContainerSpec.js';

interface FakeContainer {
  id: string;
  name: string;
  spec: ContainerSpec;
  running: boolean;
  state: string;
  hostPort?: number;
  createdAt: string;
  logs: LogLine[];
  /** Bumped on every start, so followers know a new run began. */
  generation: number;
  removed: boolean;
  exitCode: number;
  restartCount: number;
  /** Between two restart-policy attempts (crash loop). */
  restarting: boolean;
  startedAt?: string;
  finishedAt?: string;
  /** What containerStats reports while it runs (setStats). */
  usage: { cpuPercent: number; memoryBytes: number };
}

/** What a fake container uses until setStats says otherwise. */
export const FAKE_DEFAULT_USAGE = { cpuPercent: 0, memoryBytes: 4 * 1024 * 1024 } as const;
/** The fake host's memory: the memoryLimitBytes of a container without a memory limit. */
export const FAKE_HOST_MEMORY_BYTES = 8 * 1024 * 1024 * 1024;
/** The fake engine's machine as engineInfo reports it (the id is each fake engine's own). */
export const FAKE_ENGINE_HOST = { name: 'fake-engine', cpus: 4, memoryBytes: FAKE_HOST_MEMORY_BYTES } as const;

interface FakeImage extends ImageInfo {
  refs: Set<string>;
}

export interface FakeDockerControls {
  /** Makes an image pullable/present (pulls of unknown refs succeed anyway unless failPull was called). */
  addImage(ref: string, labels?: Labels): void;
  /** Pulls of this ref fail with pull_failed. */
  failPull(ref: string, message?: string): void;
  /** Builds whose repoUrl, directory or tag equals `match` fail with build_failed and this builder line. */
  failBuild(match: string, errorLine?: string): void;
  /** Containers of this image never become healthy (waitHealthy → health_timeout). */
  failHealth(image: string): void;
  /** Appends a log line as if the container printed it. */
  emitLog(id: string, text: string, stream?: 'stdout' | 'stderr'): void;
  /**
   * The app exits with `exitCode` and the restart policy brings it back at once (die, start; a new host port,
   * restartCount + 1; followers with followRestarts continue).
   */
  crash(id: string, exitCode?: number): void;
  /** `docker kill`: kill (signal 9), die (137); the restart policy leaves it exited. */
  kill(id: string): void;
  /**
   * The app keeps dying: die with `exitCode`, then the container waits between restart attempts (state
   * restarting, running false, no port). Called again while looping: one more failed attempt (start, die).
   */
  crashLoop(id: string, exitCode?: number): void;
  /** Ends a crash loop: the next attempt stays up (start, new host port). A crashOnStart image counts as fixed too. */
  recover(id: string): void;
  /** Containers of this image exit with `exitCode` as soon as they start, and crash-loop (see crashLoop). */
  crashOnStart(image: string, exitCode?: number): void;
  /** `docker rm -f` behind the platform's back: kill, die (137) if it was running, destroy. */
  removeExternally(id: string): void;
  /** `docker restart`: kill (15), die, stop if it was running, then start (new host port), restart. */
  restartExternally(id: string): void;
  /**
   * What containerStats reports for this container while it runs, from now on (across restarts too) until set
   * again; the fields not given keep their values (FAKE_DEFAULT_USAGE at first). The memory limit is the spec's.
   */
  setStats(id: string, usage: { cpuPercent?: number; memoryBytes?: number }): void;
  /** A health check result (the engine's `health_status: …` event). */
  setHealth(id: string, status: 'healthy' | 'unhealthy' | 'starting'): void;
  /**
   * dockerd stops, as a dockerd 20.10 shutdown was seen to: the running containers are stopped (kill 15, die,
   * stop reach the events() iterations), then every iteration throws DockerError 'engine' (connection lost).
   * Until engineUp() every driver call rejects with DockerError 'engine', followLogs too, and the event history
   * is gone (dockerd keeps it in memory).
   */
  engineDown(): void;
  /** dockerd is back: the containers running before engineDown start again (start events, new host ports). */
  engineUp(): void;
  /** engineDown() then engineUp(): what a dockerd restart looks like to the platform. */
  restartEngine(): void;
  /** Secret files as the app would read them (undefined when the container has none or is gone). */
  secretFilesOf(id: string): Record<string, string> | undefined;
  /** The last options passed to buildFromGit, token included, so server tests can assert on them. */
  lastGitBuild(): Parameters<DockerDriver['buildFromGit']>[0] | undefined;
  /**
   * The Dockerfile buildFromGit finds in this repo (null: none, the default, and nothing is checked). Checked as
   * the real driver checks it (dockerfilePolicy.ts: ADD from a URL, images by id or of another org → build_failed).
   * buildFromDirectory reads the directory's Dockerfile when there is one.
   */
  setRepoDockerfile(repoUrl: string, content: string | null): void;
  /** Sets the sha buildFromGit reports when no commit is asked for, and remoteHead answers (the branch's head). */
  setHeadCommit(sha: string): void;
  /** Makes remoteHead fail with a git_failed error (the remote unreachable); null makes it answer again. */
  failRemoteHead(message: string | null): void;
  /** Every driver call made, by method name, in order. */
  calls: { method: string; args: unknown[] }[];
}

export type FakeDockerDriver = DockerDriver & FakeDockerControls;

function matches(labels: Labels, want: Labels): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

function newId(): string {
  return randomBytes(32).toString('hex');
}

/** The driver methods that talk to the engine, so they fail while the fake engine is down. */
const ENGINE_METHODS = [
  'ping', 'engineInfo', 'pullImage', 'imageExists', 'inspectImage', 'buildFromGit', 'buildFromDirectory', 'listImages', 'removeImage', 'pruneImages',
  'ensureNetwork', 'runContainer', 'inspectContainer', 'containerSpec', 'stopContainer', 'startContainer',
  'holdSecretFiles', 'removeContainer', 'recreateContainer', 'waitHealthy', 'logs', 'listContainers', 'containerStats', 'listNetworks',
  'listVolumes', 'removeByLabels',
] as const satisfies readonly (keyof DockerDriver)[];

/**
 * An in-memory DockerDriver for fast server tests. It follows the same contract as the dockerode driver
 * (shared contract suite): same validation and error codes, same idempotency, labels, secret handling and
 * log-follow endings. Nothing is executed: containers "run" instantly and are healthy unless told otherwise.
 */
export function createFakeDockerDriver(): FakeDockerDriver {
  const containers = new Map<string, FakeContainer>();
  const images = new Map<string, FakeImage>();
  const networks = new Map<string, { id: string; name: string; labels: Labels }>();
  const volumes = new Map<string, { name: string; labels: Labels }>();
  const pullFailures = new Map<string, string>();
  const buildFailures = new Map<string, string>();
  const unhealthy = new Set<string>();
  const secretStore = new Map<string, Record<string, string>>();
  const waiters = new Set<() => void>();
  const calls: { method: string; args: unknown[] }[] = [];
  let nextPort = 40000;
  let headCommit = createHash('sha1').update('fake-head').digest('hex');
  let lastGit: Parameters<DockerDriver['buildFromGit']>[0] | undefined;
  let remoteHeadFailure: string | null = null;
  let clock = 0;
  const events = new FakeEngineEvents();
  // Replaced on close, so a driver handed to the next runtime (server restart tests) can be followed again.
  let closing = new AbortController();
  let down = false;
  let downRunning: string[] = [];
  const crashingImages = new Map<string, number>();
  const repoDockerfiles = new Map<string, string>();
  // Shaped like the engine's (twelve groups of four), so nothing mistakes it for a container or image id.
  const engineId = Array.from({ length: 12 }, () => randomBytes(3).toString('base64').replace(/[^A-Z0-9]/gi, 'X').toUpperCase().slice(0, 4)).join(':');

  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const tick = () => {
    // Strictly increasing, so ordering and de-duplication by timestamp behave like the engine's ns stamps.
    clock = Math.max(clock + 1, Date.now());
    return clock;
  };
  const now = () => new Date(tick()).toISOString();
  let wallClock = 0;
  /**
   * Event times and run start/end times: the wall clock, never going back. Unlike tick() it does not run ahead of
   * Date.now() under load, so a caller comparing them with its own clock (since, timeouts) sees what the engine
   * gives; like the engine's milliseconds, several events can share one.
   */
  const wall = () => (wallClock = Math.max(wallClock, Date.now()));
  const unavailable = (what: string) =>
    new DockerError('engine', `${what}: connect ENOENT /var/run/docker.sock (the fake Docker engine is down)`);
  const requireUp = () => {
    if (down) throw new Error('the fake Docker engine is down: nothing happens to containers until engineUp()');
  };

  const find = (idOrName: string): FakeContainer | undefined => {
    const key = idOrName.replace(/^\//, '');
    for (const c of containers.values()) if (c.id === key || c.name === key || (key.length >= 12 && c.id.startsWith(key))) return c;
    return undefined;
  };
  /** By name, or by full id: never by an id prefix (callers validate refs, so a prefix cannot even get here). */
  const findImage = (ref: string): FakeImage | undefined => {
    for (const i of images.values()) if (i.refs.has(ref) || i.id === ref || (/^[a-f0-9]{64}$/.test(ref) && i.id === `sha256:${ref}`)) return i;
    return undefined;
  };
  /** What a container spec runs: the recorded id of a build, or the image by name. */
  const specImage = (spec: ContainerSpec) => spec.imageId ?? spec.image;
  /** The real driver's checkBuildPolicy against the fake's images (a pull adds a missing one, as pullImage does). */
  const checkBuild = async (content: string | Buffer, shown: string, labels: Labels, onLine?: (line: string) => void) => {
    try {
      await checkBuildImages(checkDockerfile(content, shown), labels, {
        lookup: async (ref) => {
          const i = findImage(ref);
          return i ? { id: i.id, labels: { ...i.labels }, onBuild: [] } : null;
        },
        pull: async (ref) => {
          const fail = pullFailures.get(ref);
          if (fail !== undefined) throw new DockerError('build_failed', `build failed: pull of ${ref} failed: ${fail}`);
          if (!findImage(ref)) addImage(ref);
        },
      });
    } catch (err) {
      if (err instanceof DockerError && err.code === 'build_failed') onLine?.(`ERROR: ${err.message}`);
      throw err;
    }
  };
  /** `inspected`: the run-state details only an inspect reports. */
  const info = (c: FakeContainer, inspected = false): ContainerInfo => {
    const out: ContainerInfo = {
      id: c.id,
      name: c.name,
      // The engine reports what the container was created from: the id when run by imageId.
      image: specImage(c.spec),
      labels: { ...c.spec.labels },
      state: c.state,
      running: c.running,
      createdAt: c.createdAt,
    };
    if (c.hostPort !== undefined && c.running) out.hostPort = c.hostPort;
    if (inspected) {
      Object.assign(out, { exitCode: c.exitCode, oomKilled: false, restartCount: c.restartCount, restarting: c.restarting });
      if (c.startedAt) out.startedAt = c.startedAt;
      if (c.finishedAt) out.finishedAt = c.finishedAt;
    }
    return out;
  };
  const addImage = (ref: string, labels: Labels = {}, id = `sha256:${createHash('sha256').update(ref + Math.random()).digest('hex')}`) => {
    const existing = images.get(id);
    if (existing) {
      existing.refs.add(ref);
      if (!ref.startsWith('sha256:')) existing.tags.push(ref);
      return existing;
    }
    // A tag moves to the new image, as on the engine.
    for (const i of images.values()) {
      if (i.refs.delete(ref)) i.tags = i.tags.filter((t) => t !== ref);
    }
    const img: FakeImage = { id, tags: [ref], labels: { ...labels }, createdAt: now(), refs: new Set([ref]) };
    images.set(id, img);
    return img;
  };
  const log = (c: FakeContainer, text: string, stream: 'stdout' | 'stderr' = 'stdout') => {
    c.logs.push({ stream, timestamp: now(), text: truncateLine(text), containerId: c.id });
    notify();
  };
  const emit = (c: FakeContainer, action: EngineEventAction, extra: Partial<EngineEvent> = {}) =>
    events.emit({ action, containerId: c.id, name: c.name, labels: { ...c.spec.labels }, time: wall(), ...extra });
  /**
   * A run begins. `explicit`: asked for (run, start, `docker restart`), which resets the restart count as the
   * engine does; otherwise the restart policy's doing. Secret files come from what the driver holds, as the real
   * driver's restart watcher delivers them again. An image told to crashOnStart dies at once and loops.
   */
  const start = (c: FakeContainer, explicit: boolean) => {
    c.running = true;
    c.restarting = false;
    c.state = 'running';
    c.exitCode = 0;
    c.generation += 1;
    c.startedAt = new Date(wall()).toISOString();
    if (explicit) c.restartCount = 0;
    // Every start publishes the port anew; the engine hands out the next free ephemeral port.
    if (c.spec.port !== undefined) c.hostPort = nextPort++;
    const files = held.get(c.id);
    if (files && Object.keys(files).length) secretStore.set(c.id, { ...files });
    emit(c, 'start');
    notify();
    const crashCode = crashingImages.get(c.spec.image);
    if (crashCode !== undefined) die(c, crashCode, true);
  };
  /** The process ended; `restart`: the restart policy will try again (state restarting until it does). */
  const die = (c: FakeContainer, exitCode: number, restart: boolean) => {
    c.running = false;
    c.exitCode = exitCode;
    c.finishedAt = new Date(wall()).toISOString();
    c.restarting = restart;
    c.state = restart ? 'restarting' : 'exited';
    // The engine counts the attempt when it schedules it.
    if (restart) c.restartCount += 1;
    // The secrets tmpfs goes with the run.
    secretStore.delete(c.id);
    emit(c, 'die', { exitCode });
    notify();
  };
  /** A stop as the engine does it: SIGTERM (the app exits cleanly), no restart. */
  const stop = (c: FakeContainer) => {
    if (c.running) {
      emit(c, 'kill', { signal: 15 });
      die(c, 0, false);
    } else {
      c.restarting = false;
      c.state = 'exited';
    }
    emit(c, 'stop');
    notify();
  };
  const create = (spec: ContainerSpec, name: string): FakeContainer => {
    validateContainerSpec(spec);
    const img = findImage(specImage(spec));
    if (!img) throw new DockerError('not_found', `create container ${name}: No such image: ${specImage(spec)}`);
    checkImageOrg(img.labels, spec.labels, `image ${specImage(spec)}`);
    if (find(name)) throw new DockerError('engine', `create container ${name}: Conflict. The container name "/${name}" is already in use`);
    const volLabels = { ...spec.labels };
    delete volLabels[LABELS.deployment];
    for (const v of spec.volumes ?? []) if (!volumes.has(v.name)) volumes.set(v.name, { name: v.name, labels: volLabels });
    const c: FakeContainer = {
      id: newId(),
      name,
      spec: structuredClone({ ...spec, env: { ...(spec.env ?? {}) }, secretFiles: undefined }),
      running: false,
      state: 'created',
      createdAt: now(),
      logs: [],
      generation: 0,
      removed: false,
      exitCode: 0,
      restartCount: 0,
      restarting: false,
      usage: { ...FAKE_DEFAULT_USAGE },
    };
    delete c.spec.secretFiles;
    containers.set(c.id, c);
    emit(c, 'create');
    return c;
  };
  const held = new Map<string, Record<string, string>>();
  /** A forced removal: a running container is killed first (kill 9, die 137). */
  const remove = (c: FakeContainer) => {
    if (c.running) {
      emit(c, 'kill', { signal: 9 });
      die(c, 137, false);
    }
    c.removed = true;
    c.running = false;
    containers.delete(c.id);
    secretStore.delete(c.id);
    held.delete(c.id);
    emit(c, 'destroy');
    notify();
  };
  const mustFind = (id: string): FakeContainer => {
    const c = find(id);
    if (!c) throw new DockerError('not_found', `no such container: ${id}`);
    return c;
  };
  const mustRun = (c: FakeContainer, what: string): void => {
    if (!c.running) throw new DockerError('engine', `${what}: container ${c.id} is not running`);
  };
  const secretKeysOf = (c: FakeContainer) => c.spec as ContainerSpec & { secretKeys?: string[] };
  const requireSecrets = (c: FakeContainer, files: Record<string, string> | undefined) => {
    const keys = secretKeysOf(c).secretKeys ?? [];
    const missing = keys.filter((k) => files?.[k] === undefined);
    if (missing.length)
      throw new DockerError('not_found', `secret files ${missing.join(', ')} of container ${c.id} are not held by this driver; pass them again`);
  };
  const track = (method: string, args: unknown[]) => calls.push({ method, args });
  const removeBy = (labels: Labels) => {
    for (const c of [...containers.values()]) if (matches(c.spec.labels, labels)) remove(c);
  };

  const driver: FakeDockerDriver = {
    calls,
    addImage: (ref, labels) => void addImage(ref, labels),
    failPull: (ref, message = 'connection refused') => void pullFailures.set(ref, message),
    failBuild: (match, errorLine = "The command '/bin/sh -c false' returned a non-zero code: 1") => void buildFailures.set(match, errorLine),
    failHealth: (image) => void unhealthy.add(image),
    emitLog(id, text, stream = 'stdout') {
      const c = find(id);
      if (!c) throw new DockerError('not_found', `no such container: ${id}`);
      log(c, text, stream);
    },
    crash(id, exitCode = 1) {
      requireUp();
      const c = mustFind(id);
      mustRun(c, 'crash');
      die(c, exitCode, true);
      start(c, false);
    },
    kill(id) {
      requireUp();
      const c = mustFind(id);
      mustRun(c, 'kill');
      emit(c, 'kill', { signal: 9 });
      die(c, 137, false);
    },
    crashLoop(id, exitCode = 1) {
      requireUp();
      const c = mustFind(id);
      if (c.restarting) {
        // One more attempt that dies at once: log followers see a run begin and end.
        c.generation += 1;
        emit(c, 'start');
        die(c, exitCode, true);
        return;
      }
      mustRun(c, 'crashLoop');
      die(c, exitCode, true);
    },
    recover(id) {
      requireUp();
      const c = mustFind(id);
      if (!c.restarting) throw new DockerError('engine', `recover: container ${c.id} is not in a crash loop`);
      crashingImages.delete(c.spec.image);
      start(c, false);
    },
    crashOnStart(image, exitCode = 1) {
      crashingImages.set(image, exitCode);
    },
    removeExternally(id) {
      requireUp();
      remove(mustFind(id));
    },
    restartExternally(id) {
      requireUp();
      const c = mustFind(id);
      if (c.running) stop(c);
      start(c, true);
      emit(c, 'restart');
    },
    setStats(id, usage) {
      const c = mustFind(id);
      if (usage.cpuPercent !== undefined) c.usage.cpuPercent = usage.cpuPercent;
      if (usage.memoryBytes !== undefined) c.usage.memoryBytes = usage.memoryBytes;
    },
    setHealth(id, status) {
      requireUp();
      emit(mustFind(id), 'health', { health: status });
    },
    engineDown() {
      if (down) return;
      down = true;
      // unless-stopped: what ran (or was crash-looping) comes back with the daemon, what was stopped does not.
      downRunning = [...containers.values()].filter((c) => c.running || c.restarting).map((c) => c.id);
      for (const id of downRunning) stop(containers.get(id) as FakeContainer);
      events.breakAll(() => new DockerError('engine', "the Docker engine's event stream broke: socket hang up (the fake Docker engine went down)"));
      notify();
    },
    engineUp() {
      if (!down) return;
      down = false;
      for (const id of downRunning.splice(0)) {
        const c = containers.get(id);
        if (c) start(c, true);
      }
    },
    restartEngine() {
      driver.engineDown();
      driver.engineUp();
    },
    secretFilesOf: (id) => {
      const c = find(id);
      return c ? secretStore.get(c.id) : undefined;
    },
    lastGitBuild: () => lastGit,
    setRepoDockerfile: (repoUrl, content) => void (content === null ? repoDockerfiles.delete(repoUrl) : repoDockerfiles.set(repoUrl, content)),
    setHeadCommit: (sha) => void (headCommit = sha),
    failRemoteHead: (message) => void (remoteHeadFailure = message),

    async ping() {
      track('ping', []);
    },

    async engineInfo() {
      track('engineInfo', []);
      return { id: engineId, ...FAKE_ENGINE_HOST };
    },

    async pullImage(ref, o = {}) {
      track('pullImage', [ref]);
      validateImageRef(ref);
      if (o.signal?.aborted) throw abortReason(o.signal);
      const fail = pullFailures.get(ref);
      if (fail !== undefined) throw new DockerError('pull_failed', `pull of ${ref} failed: ${fail}`);
      o.onLine?.(`Pulling from ${ref}`);
      if (!findImage(ref)) addImage(ref);
      o.onLine?.(`Status: Downloaded newer image for ${ref}`);
    },

    async imageExists(ref) {
      track('imageExists', [ref]);
      validateImageRef(ref);
      return findImage(ref) !== undefined;
    },

    async inspectImage(ref) {
      track('inspectImage', [ref]);
      validateImageRefOrId(ref);
      const i = findImage(ref);
      return i ? { id: i.id, tags: [...i.tags], labels: { ...i.labels }, createdAt: i.createdAt } : null;
    },

    async buildFromGit(o) {
      track('buildFromGit', [{ ...o, token: o.token ? '***' : undefined }]);
      lastGit = o;
      validateRepoUrl(o.repoUrl, o.allowHosts ?? []);
      validateBranch(o.branch);
      if (o.commit) validateCommit(o.commit);
      validateRelativePath(o.context || '.', 'context');
      validateRelativePath(o.dockerfile || 'Dockerfile', 'dockerfile');
      validateImageRef(o.tag, 'tag');
      buildLimits(o.cpu, o.memoryMb);
      if (o.signal?.aborted) throw abortReason(o.signal);
      await sleep(1);
      const dockerfile = repoDockerfiles.get(o.repoUrl);
      if (dockerfile !== undefined) await checkBuild(dockerfile, o.dockerfile || 'Dockerfile', o.labels, o.onLine);
      const fail = buildFailures.get(o.repoUrl) ?? buildFailures.get(o.tag);
      o.onLine?.(`Step 1/1 : FROM fake (${o.repoUrl}#${o.branch})`);
      if (fail !== undefined) {
        o.onLine?.(`ERROR: ${fail}`);
        throw new DockerError('build_failed', `build failed: ${fail}`);
      }
      const img = addImage(o.tag, o.labels);
      o.onLine?.(`Successfully tagged ${o.tag}`);
      return { imageId: img.id, tag: o.tag, commitSha: o.commit && o.commit.length === 40 ? o.commit.toLowerCase() : headCommit };
    },

    // Not an engine call (git talks to the remote), so it answers while the fake engine is down, as the real one does.
    async remoteHead(o) {
      track('remoteHead', [{ ...o, token: o.token ? '***' : undefined }]);
      validateRepoUrl(o.repoUrl, o.allowHosts ?? []);
      validateBranch(o.branch);
      if (o.signal?.aborted) throw abortReason(o.signal);
      await sleep(1);
      if (remoteHeadFailure !== null) throw new DockerError('git_failed', `git: ${remoteHeadFailure}`);
      return headCommit;
    },

    async buildFromDirectory(o) {
      track('buildFromDirectory', [o]);
      validateRelativePath(o.dockerfile || 'Dockerfile', 'dockerfile');
      validateImageRef(o.tag, 'tag');
      buildLimits(o.cpu, o.memoryMb);
      if (o.signal?.aborted) throw abortReason(o.signal);
      await sleep(1);
      const file = o.dockerfile || 'Dockerfile';
      const content = await readFile(join(o.dir, file)).catch(() => undefined);
      if (content !== undefined) {
        if (content.length > MAX_DOCKERFILE_BYTES) throw new DockerError('build_failed', `${file} is larger than ${MAX_DOCKERFILE_BYTES} bytes`);
        await checkBuild(content, file, o.labels, o.onLine);
      }
      const fail = buildFailures.get(o.dir) ?? buildFailures.get(o.tag);
      if (fail !== undefined) {
        o.onLine?.(`ERROR: ${fail}`);
        throw new DockerError('build_failed', `build failed: ${fail}`);
      }
      o.onLine?.(`Successfully tagged ${o.tag}`);
      return { imageId: addImage(o.tag, o.labels).id, tag: o.tag };
    },

    async listImages(labels) {
      track('listImages', [labels]);
      return [...images.values()]
        .filter((i) => matches(i.labels, labels))
        .map((i) => ({ id: i.id, tags: [...i.tags], labels: { ...i.labels }, createdAt: i.createdAt }));
    },

    async removeImage(id) {
      track('removeImage', [id]);
      const img = findImage(id);
      if (img) images.delete(img.id);
    },

    async pruneImages(labels, keep, protect = []) {
      track('pruneImages', [labels, keep, protect]);
      const bare = (s: string) => s.replace(/^sha256:/, '');
      const inUse = new Set([...containers.values()].map((c) => findImage(specImage(c.spec))?.id));
      const list = [...images.values()].filter((i) => matches(i.labels, labels)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      const removed: string[] = [];
      for (const img of list.slice(Math.max(keep, 0))) {
        if (inUse.has(img.id) || protect.map(bare).includes(bare(img.id)) || img.tags.some((t) => protect.includes(t))) continue;
        images.delete(img.id);
        removed.push(img.id);
      }
      return removed;
    },

    async ensureNetwork(name, labels) {
      track('ensureNetwork', [name, labels]);
      for (const n of networks.values()) if (n.name === name) return n.id;
      const id = newId();
      networks.set(id, { id, name, labels: { ...labels } });
      return id;
    },

    async runContainer(spec) {
      track('runContainer', [{ ...spec, secretFiles: spec.secretFiles ? Object.keys(spec.secretFiles) : undefined }]);
      const c = create(spec, spec.name);
      (c.spec as ContainerSpec & { secretKeys?: string[] }).secretKeys = Object.keys(spec.secretFiles ?? {});
      if (spec.secretFiles && Object.keys(spec.secretFiles).length) held.set(c.id, { ...spec.secretFiles });
      start(c, true);
      return info(c, true);
    },

    async inspectContainer(id) {
      track('inspectContainer', [id]);
      const c = find(id);
      return c ? info(c, true) : null;
    },

    async containerSpec(id) {
      const c = find(id);
      if (!c) return null;
      const { secretKeys, ...spec } = structuredClone(c.spec) as ContainerSpec & { secretKeys?: string[] };
      void secretKeys;
      const files = held.get(c.id);
      return files ? { ...spec, secretFiles: { ...files } } : spec;
    },

    async stopContainer(id) {
      track('stopContainer', [id]);
      const c = find(id);
      if (c?.running || c?.restarting) stop(c);
    },

    async startContainer(id, o = {}) {
      track('startContainer', [id]);
      const c = find(id);
      if (!c) throw new DockerError('not_found', `container ${id} does not exist`);
      const files = o.secretFiles ?? held.get(c.id);
      requireSecrets(c, files);
      if (files && (secretKeysOf(c).secretKeys ?? []).length) held.set(c.id, { ...files });
      if (!c.running) start(c, true);
    },

    async holdSecretFiles(id, files) {
      track('holdSecretFiles', [id, Object.keys(files)]);
      const c = find(id);
      if (!c) throw new DockerError('not_found', `container ${id} does not exist`);
      requireSecrets(c, files);
      if (!(secretKeysOf(c).secretKeys ?? []).length) return;
      held.set(c.id, { ...files });
      if (c.running) secretStore.set(c.id, { ...files });
    },

    async removeContainer(id) {
      track('removeContainer', [id]);
      const c = find(id);
      if (c) remove(c);
    },

    async recreateContainer(id, o = {}) {
      track('recreateContainer', [id]);
      const old = find(id);
      if (!old) throw new DockerError('not_found', `container ${id} does not exist`);
      const files = o.secretFiles ?? held.get(old.id);
      requireSecrets(old, files);
      const keys = secretKeysOf(old).secretKeys ?? [];
      const { secretKeys, ...spec } = structuredClone(old.spec) as ContainerSpec & { secretKeys?: string[] };
      void secretKeys;
      // The real driver's order, so the events match: create under a temporary name, remove the old one, rename, start.
      const c = create(spec, `${old.name}-recreate-${randomBytes(4).toString('hex')}`);
      remove(old);
      c.name = old.name;
      (c.spec as ContainerSpec & { secretKeys?: string[] }).secretKeys = keys;
      if (files && keys.length) held.set(c.id, { ...files });
      start(c, true);
      return info(c, true);
    },

    async waitHealthy(id, o) {
      track('waitHealthy', [id]);
      const c = find(id);
      if (!c) throw new DockerError('not_found', `container ${id} does not exist`);
      if (o.signal?.aborted) throw abortReason(o.signal);
      if (o.port !== undefined && o.port !== c.spec.port) throw new DockerError('not_found', `container port ${o.port} is not published`);
      // The timeout is virtual: an unhealthy container fails at once instead of making tests wait.
      if (unhealthy.has(c.spec.image) || !c.running) {
        await sleep(Math.min(o.timeoutMs, 5));
        throw new DockerError('health_timeout', `container not healthy after ${o.timeoutMs} ms: ${c.running ? 'connection refused' : `container is ${c.state}`}`);
      }
    },

    async logs(id, o = {}) {
      track('logs', [id]);
      const c = find(id);
      if (!c) throw new DockerError('not_found', `logs of ${id}: No such container: ${id}`);
      const tail = o.tail ?? 200;
      if (tail <= 0) return [];
      // As the real driver: the newest lines whose texts fit in MAX_LOGS_SNAPSHOT_BYTES.
      const out: LogLine[] = [];
      let size = 0;
      for (const l of c.logs.slice(-tail).reverse()) {
        size += Buffer.byteLength(l.text);
        if (size > MAX_LOGS_SNAPSHOT_BYTES) break;
        out.push({ ...l });
      }
      return out.reverse();
    },

    followLogs(id, o = {}) {
      track('followLogs', [id]);
      const { signal } = o;
      return (async function* () {
        if (down) throw unavailable('follow logs');
        const c = find(id);
        if (!c) return;
        const sinceMs = o.since !== undefined ? o.since * 1000 : -Infinity;
        const backlog = c.logs.filter((l) => Date.parse(l.timestamp) >= sinceMs);
        let index = c.logs.length - (o.tail !== undefined ? Math.min(o.tail, backlog.length) : backlog.length);
        let generation = c.generation;
        while (!signal?.aborted) {
          while (index < c.logs.length) {
            const line = c.logs[index++];
            if (line) yield { ...line };
          }
          if (c.removed) return;
          // As on the engine: a plain follow just sees its stream end; one that waits for the next run cannot ask.
          if (down) {
            if (!o.followRestarts) return;
            throw unavailable('follow logs');
          }
          if (!c.running || c.generation !== generation) {
            if (!o.followRestarts) return;
            generation = c.generation;
          }
          // Wait for anything to change (a line, a stop, a start, a removal) or the abort.
          await new Promise<void>((resolve) => {
            const wake = () => {
              waiters.delete(wake);
              signal?.removeEventListener('abort', wake);
              resolve();
            };
            waiters.add(wake);
            signal?.addEventListener('abort', wake, { once: true });
          });
        }
      })();
    },

    async listContainers(labels, o = {}) {
      track('listContainers', [labels]);
      return [...containers.values()].filter((c) => matches(c.spec.labels, labels) && (o.all || c.running)).map((c) => info(c));
    },

    async containerStats(id) {
      track('containerStats', [id]);
      const c = find(id);
      if (!c) throw new DockerError('not_found', `stats of container ${id}: No such container: ${id}`);
      if (!c.running) return null;
      return {
        ...c.usage,
        memoryLimitBytes: c.spec.memoryMb !== undefined ? Math.round(c.spec.memoryMb * 1024 * 1024) : FAKE_HOST_MEMORY_BYTES,
        readAt: new Date(wall()).toISOString(),
      };
    },

    events(o = {}) {
      track('events', [{ since: o.since, labels: o.labels }]);
      return events.follow(o, closing.signal, () => (down ? unavailable('follow engine events') : undefined));
    },

    async listNetworks(labels) {
      return [...networks.values()].filter((n) => matches(n.labels, labels)).map((n) => ({ ...n, labels: { ...n.labels } }));
    },

    async listVolumes(labels) {
      return [...volumes.values()].filter((v) => matches(v.labels, labels)).map((v) => ({ ...v, labels: { ...v.labels } }));
    },

    async removeByLabels(labels, o = {}) {
      track('removeByLabels', [labels]);
      if (Object.keys(labels).filter((k) => k !== LABELS.managed).length === 0)
        throw new DockerError('invalid_ref', 'removeByLabels needs at least one label besides the managed one');
      removeBy(labels);
      for (const [id, n] of networks) if (matches(n.labels, labels)) networks.delete(id);
      if (o.volumes ?? true) for (const [name, v] of volumes) if (matches(v.labels, labels)) volumes.delete(name);
      if (o.images ?? true) for (const [id, i] of images) if (matches(i.labels, labels)) images.delete(id);
    },

    async close() {
      closing.abort();
      closing = new AbortController();
      notify();
    },
  };
  for (const m of ENGINE_METHODS) {
    const real = driver[m] as (...args: unknown[]) => Promise<unknown>;
    (driver as unknown as Record<string, unknown>)[m] = (...args: unknown[]) =>
      down ? Promise.reject(unavailable(m)) : real.apply(driver, args);
  }
  return driver;
}
