import Dockerode from 'dockerode';
import { randomBytes } from 'node:crypto';
import { buildFromDirectory } from './buildFromDirectory.js';
import { buildFromGit } from './buildFromGit.js';
import { fromInspect, fromListEntry, labelFilter } from './containerInfo.js';
import { CpuBaselines, readContainerStats } from './container-stats.js';
import { decodeSpec, encodeSpec, SPEC_LABEL } from './containerSpecLabel.js';
import { DockerError, engineMessage, engineStatus, toDockerError } from './DockerError.js';
import { DEFAULT_CALL_TIMEOUT_MS, engineCall } from './engineCall.js';
import { followContainerLogs } from './followContainerLogs.js';
import { followEngineEvents } from './followEngineEvents.js';
import { CONTAINER_CAPABILITIES, CONTAINER_NOFILE_LIMIT } from './hardening.js';
import { checkImageOrg } from './imagePolicy.js';
import { logsSnapshot } from './logsSnapshot.js';
import { pullImage } from './pullImage.js';
import { remoteHead } from './remoteHead.js';
import { SecretKeeper } from './SecretKeeper.js';
import { explainPoolExhaustion, pickSubnet } from './subnetPool.js';
import { deliverSecretFiles, secretsMount } from './secretFiles.js';
import { LABELS, type ContainerInfo, type ContainerSpec, type DockerDriver, type ImageInfo, type Labels } from './types.js';
import { validateImageRef, validateImageRefOrId } from './validateImageRef.js';
import { validateContainerSpec } from './validateContainerSpec.js';
import { waitContainerHealthy } from './waitContainerHealthy.js';

export interface DockerodeDriverOptions {
  docker?: Dockerode;
  /** Deadline of each engine call (long operations such as builds and pulls have their own). */
  callTimeoutMs?: number;
  /** `host[:port]` repo hosts allowed over http and on private addresses (GIT_ALLOW_HOSTS). */
  gitAllowHosts?: string[];
  /**
   * An IPv4 range (APP_SUBNET_POOL) each new network takes a `/subnetPrefix` of, past every subnet the engine's
   * networks already use; unset, the engine's default address pools choose (about 30 networks in all).
   */
  subnetPool?: string;
  /** Default 24. */
  subnetPrefix?: number;
}

export const DEFAULT_PIDS_LIMIT = 512;

function ignoreStatus(...codes: number[]) {
  return (err: unknown) => {
    const s = engineStatus(err);
    if (s !== undefined && codes.includes(s)) return;
    throw err;
  };
}

export function createDockerodeDriver(opts: DockerodeDriverOptions = {}): DockerDriver {
  const docker = opts.docker ?? new Dockerode();
  const callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const gitAllowHosts = opts.gitAllowHosts ?? [];
  const keeper = new SecretKeeper(docker, callTimeoutMs);
  // Each container's previous stats reading: the `precpu` of its next one-shot read.
  const baselines = new CpuBaselines();
  // close() ends the events() iterations begun before it, so a forgotten one cannot keep a request open.
  let closing = new AbortController();

  /**
   * A network with a subnet of its own from the pool: the first /prefix no existing network overlaps. Two creators
   * can pick the same one at once; the engine refuses the second ("overlaps"), which then takes the next.
   */
  async function ensurePooledNetwork(name: string, labels: Labels, pool: string, prefix: number): Promise<string> {
    const tried: string[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const nets = await call('list networks', (abortSignal) => docker.listNetworks({ abortSignal } as Dockerode.NetworkListOptions));
      const existing = nets.find((n) => n.Name === name);
      if (existing) return existing.Id;
      const taken = nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')).concat(tried);
      const subnet = pickSubnet(pool, prefix, taken);
      if (!subnet) throw new DockerError('engine', `create network ${name}: no free /${prefix} left in APP_SUBNET_POOL ${pool}`);
      try {
        const net = await call(`create network ${name}`, (abortSignal) =>
          docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true, IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] }, abortSignal } as Dockerode.NetworkCreateOptions),
        );
        return net.id;
      } catch (err) {
        // Taken meanwhile (another app's network), or our name created concurrently: look again.
        if (!/overlap|already exists/i.test(engineMessage(err))) throw err;
        tried.push(subnet);
      }
    }
    throw new DockerError('engine', `create network ${name}: no subnet of APP_SUBNET_POOL ${pool} could be taken after 8 tries`);
  }

  /** One engine call: deadline, and engine errors mapped to DockerError (404 → not_found). */
  const call = <T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>, timeoutMs = callTimeoutMs): Promise<T> =>
    engineCall(what, timeoutMs, fn).catch((err: unknown) => {
      throw toDockerError(err, what);
    });

  const inspectRaw = (id: string) =>
    call(`inspect container ${id}`, (abortSignal) => docker.getContainer(id).inspect({ abortSignal })).catch((err: unknown) => {
      if (err instanceof DockerError && err.code === 'not_found') return null;
      throw err;
    });

  async function ensureVolumes(spec: ContainerSpec): Promise<void> {
    // Volumes outlive deployments, so they are not tied to the deployment that first created them.
    const labels = { ...spec.labels };
    delete labels[LABELS.deployment];
    for (const v of spec.volumes ?? []) {
      // Creating an existing volume returns it unchanged, so this is "create if missing" without a race.
      await call(`create volume ${v.name}`, (abortSignal) =>
        docker.createVolume({ Name: v.name, Labels: labels, abortSignal } as Dockerode.VolumeCreateOptions),
      );
    }
  }

  function createOptions(spec: ContainerSpec, name: string): Dockerode.ContainerCreateOptions {
    const port = spec.port !== undefined ? `${spec.port}/tcp` : undefined;
    const mounts: Dockerode.MountSettings[] = (spec.volumes ?? []).map((v) => ({ Type: 'volume', Source: v.name, Target: v.path }));
    if (spec.secretFiles && Object.keys(spec.secretFiles).length) mounts.push(secretsMount(spec.labels));
    const hostConfig: Dockerode.HostConfig = {
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      CapAdd: [...CONTAINER_CAPABILITIES],
      Ulimits: [{ Name: 'nofile', Soft: CONTAINER_NOFILE_LIMIT.soft, Hard: CONTAINER_NOFILE_LIMIT.hard }],
      // A tiny init as PID 1 forwards SIGTERM and reaps zombies: apps that ignore signals as PID 1 (busybox httpd,
      // many shells) would otherwise hold every stop for the full grace period.
      Init: true,
      PidsLimit: spec.pidsLimit ?? DEFAULT_PIDS_LIMIT,
      Mounts: mounts,
      // Logs are read back through the engine; json-file with rotation keeps them bounded on disk.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    };
    if (spec.cpu !== undefined) hostConfig.NanoCpus = Math.round(spec.cpu * 1e9);
    if (spec.memoryMb !== undefined) {
      hostConfig.Memory = Math.round(spec.memoryMb * 1024 * 1024);
      hostConfig.MemorySwap = hostConfig.Memory;
    }
    if (port) hostConfig.PortBindings = { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] };
    if (spec.network) hostConfig.NetworkMode = spec.network;
    const o: Dockerode.ContainerCreateOptions = {
      name,
      // The recorded id of a platform build when given (exactly that image), else the name (validated as one).
      Image: spec.imageId ?? spec.image,
      Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: { ...spec.labels, [SPEC_LABEL]: encodeSpec(spec) },
      HostConfig: hostConfig,
    };
    if (spec.command) o.Cmd = spec.command;
    if (port) o.ExposedPorts = { [port]: {} };
    if (spec.network && spec.aliases?.length)
      o.NetworkingConfig = { EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } } };
    return o;
  }


  /**
   * The image a spec runs, before anything is created: it must exist (not_found, as the engine's create says) and
   * must not carry another org's label than the spec (see ContainerSpec.imageId). Answers its id.
   */
  async function checkSpecImage(spec: ContainerSpec): Promise<string> {
    const ref = spec.imageId ?? spec.image;
    const img = await call(`inspect image ${ref}`, (abortSignal) => docker.getImage(ref).inspect({ abortSignal } as object)).catch((err: unknown) => {
      if (err instanceof DockerError && err.code === 'not_found') throw new DockerError('not_found', `create container ${spec.name}: No such image: ${ref}`);
      throw err;
    });
    checkImageOrg(img.Config?.Labels, spec.labels, `image ${ref}`);
    return img.Id;
  }

  /**
   * Creates the container, then makes sure it uses the image checked by checkSpecImage: a tag moved in between
   * (a pull, a build) must not slip another image in. Nothing has run yet when it is refused.
   */
  async function createChecked(spec: ContainerSpec, name: string, imageId: string): Promise<string> {
    const created = await call(`create container ${name}`, (abortSignal) => docker.createContainer({ ...createOptions(spec, name), abortSignal }));
    if (!spec.imageId) {
      let refused: Error | undefined;
      try {
        const info = await inspectRaw(created.id);
        if (info?.Image !== imageId) refused = new DockerError('invalid_ref', `image ${spec.image} changed while container ${name} was created; try again`);
      } catch (err) {
        refused = err as Error;
      }
      if (refused) {
        await removeQuietly(created.id).catch(() => undefined);
        throw refused;
      }
    }
    return created.id;
  }

  /** Start, then copy the secret files into the (now mounted) tmpfs. */
  async function startAndDeliver(id: string, name: string, files: Record<string, string> | undefined): Promise<ContainerInfo> {
    await call(`start container ${name}`, (abortSignal) => docker.getContainer(id).start({ abortSignal })).catch(ignoreStatus(304));
    let info = await inspectRaw(id);
    if (!info) throw new DockerError('not_found', `container ${name} disappeared while starting`);
    if (files && Object.keys(files).length) {
      await deliverSecretFiles(docker.getContainer(id), files, info.Config.User ?? '', callTimeoutMs);
      keeper.set(info.Id, name, info.Config.User ?? '', files);
      info = (await inspectRaw(id)) ?? info;
    }
    return fromInspect(info);
  }

  async function removeQuietly(id: string): Promise<void> {
    keeper.delete(id);
    baselines.delete(id);
    await call(`remove container ${id}`, (abortSignal) => docker.getContainer(id).remove({ force: true, v: true, abortSignal } as object)).catch(
      (err: unknown) => {
        if (err instanceof DockerError && err.code === 'not_found') return;
        // 409: a removal is already in progress, which is what we want.
        if (engineStatus((err as DockerError).cause) === 409) return;
        throw err;
      },
    );
  }

  async function specOf(id: string): Promise<{ info: Dockerode.ContainerInspectInfo; spec: ContainerSpec; secretKeys: string[] } | null> {
    const info = await inspectRaw(id);
    if (!info) return null;
    const decoded = decodeSpec(info.Config.Labels ?? {}, info.Config.Env ?? []);
    if (!decoded) throw new DockerError('not_found', `container ${id} was not created by this driver (no spec label)`);
    const { secretKeys, ...spec } = decoded;
    const files = keeper.get(info.Id);
    return { info, spec: files ? { ...spec, secretFiles: files } : spec, secretKeys };
  }

  function requireSecrets(id: string, secretKeys: string[], files: Record<string, string> | undefined): void {
    const missing = secretKeys.filter((k) => files?.[k] === undefined);
    if (missing.length)
      throw new DockerError('not_found', `secret files ${missing.join(', ')} of container ${id} are not held by this driver; pass them again`);
  }


  const driver: DockerDriver = {
    async ping() {
      await call('ping', (abortSignal) => (docker.ping as (o: object) => Promise<unknown>).call(docker, { abortSignal }));
    },

    async engineInfo() {
      const info = (await call('info', (abortSignal) => (docker.info as (o: object) => Promise<unknown>).call(docker, { abortSignal }))) as {
        ID?: string;
        Name?: string;
        NCPU?: number;
        MemTotal?: number;
      };
      return { id: info.ID ?? '', name: info.Name ?? '', cpus: info.NCPU ?? 0, memoryBytes: info.MemTotal ?? 0 };
    },

    pullImage: (ref, o = {}) => pullImage(docker, ref, o, callTimeoutMs),

    async imageExists(ref) {
      validateImageRef(ref);
      try {
        await call(`inspect image ${ref}`, (abortSignal) => docker.getImage(ref).inspect({ abortSignal } as object));
        return true;
      } catch (err) {
        if (err instanceof DockerError && err.code === 'not_found') return false;
        throw err;
      }
    },

    async inspectImage(ref) {
      validateImageRefOrId(ref);
      try {
        const i = await call(`inspect image ${ref}`, (abortSignal) => docker.getImage(ref).inspect({ abortSignal } as object));
        const info: ImageInfo = {
          id: i.Id,
          tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
          labels: i.Config?.Labels ?? {},
          createdAt: new Date(i.Created).toISOString(),
        };
        return info;
      } catch (err) {
        if (err instanceof DockerError && err.code === 'not_found') return null;
        throw err;
      }
    },

    buildFromGit: (o) => buildFromGit(docker, o, gitAllowHosts, callTimeoutMs),
    remoteHead: (o) => remoteHead(o, gitAllowHosts),
    buildFromDirectory: (o) => buildFromDirectory(docker, o, callTimeoutMs),

    async listImages(labels) {
      const images = await call('list images', (abortSignal) =>
        docker.listImages({ filters: { label: labelFilter(labels) }, abortSignal } as Dockerode.ListImagesOptions),
      );
      return images.map((i) => ({
        id: i.Id,
        tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
        labels: i.Labels ?? {},
        createdAt: new Date(i.Created * 1000).toISOString(),
      }));
    },

    async removeImage(id) {
      await call(`remove image ${id}`, (abortSignal) => docker.getImage(id).remove({ force: true, abortSignal } as object)).catch(
        (err: unknown) => {
          if (err instanceof DockerError && err.code === 'not_found') return;
          throw err;
        },
      );
    },

    async pruneImages(labels, keep, protect = []) {
      const images = (await driver.listImages(labels)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      const inUse = new Set(
        (await call('list containers', (abortSignal) => docker.listContainers({ all: true, abortSignal } as Dockerode.ContainerListOptions))).map(
          (c) => c.ImageID,
        ),
      );
      const bare = (s: string) => s.replace(/^sha256:/, '');
      const protectedIds = new Set(protect.map(bare));
      const removed: string[] = [];
      for (const img of images.slice(Math.max(keep, 0))) {
        if (inUse.has(img.id) || protectedIds.has(bare(img.id)) || img.tags.some((t) => protect.includes(t))) continue;
        try {
          await driver.removeImage(img.id);
          removed.push(img.id);
        } catch (err) {
          // In use by something created meanwhile: it stays, and the next prune will look again.
          if (!(err instanceof DockerError && engineStatus(err.cause) === 409)) throw err;
        }
      }
      return removed;
    },

    async ensureNetwork(name, labels) {
      if (opts.subnetPool) return ensurePooledNetwork(name, labels, opts.subnetPool, opts.subnetPrefix ?? 24);
      const find = async () => {
        const nets = await call('list networks', (abortSignal) =>
          docker.listNetworks({ filters: { name: [name] }, abortSignal } as Dockerode.NetworkListOptions),
        );
        // The name filter matches substrings.
        return nets.find((n) => n.Name === name)?.Id;
      };
      // Created first, looked up on refusal: a new app's first deploy waits for this, so it costs one call there;
      // an existing network costs a refused create (the engine's duplicate check comes first, before any setup).
      try {
        const net = await call(`create network ${name}`, (abortSignal) =>
          docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true, abortSignal } as Dockerode.NetworkCreateOptions),
        );
        return net.id;
      } catch (err) {
        // There already (ours from before, or created concurrently by someone else): as good as a new one. Else
        // the create's refusal is the error that says why.
        const existing = await find().catch(() => undefined);
        if (existing) return existing;
        throw explainPoolExhaustion(err);
      }
    },

    async runContainer(spec) {
      validateContainerSpec(spec);
      const imageId = await checkSpecImage(spec);
      await ensureVolumes(spec);
      const created = await createChecked(spec, spec.name, imageId);
      try {
        return await startAndDeliver(created, spec.name, spec.secretFiles);
      } catch (err) {
        // A half-started container (e.g. without its secrets) must not be left running.
        await removeQuietly(created).catch(() => undefined);
        throw err;
      }
    },

    async inspectContainer(id) {
      const info = await inspectRaw(id);
      return info ? fromInspect(info) : null;
    },

    async containerSpec(id) {
      return (await specOf(id))?.spec ?? null;
    },

    async stopContainer(id, timeoutSec = 10) {
      await call(`stop container ${id}`, (abortSignal) => docker.getContainer(id).stop({ t: timeoutSec, abortSignal } as object), timeoutSec * 1000 + callTimeoutMs).catch(
        (err: unknown) => {
          if (err instanceof DockerError && err.code === 'not_found') return;
          if (engineStatus((err as DockerError).cause) === 304) return;
          throw err;
        },
      );
    },

    async startContainer(id, o = {}) {
      const found = await specOf(id);
      if (!found) throw new DockerError('not_found', `container ${id} does not exist`);
      const files = o.secretFiles ?? found.spec.secretFiles;
      requireSecrets(id, found.secretKeys, files);
      await startAndDeliver(found.info.Id, found.info.Name.replace(/^\//, ''), found.secretKeys.length ? files : undefined);
    },

    async holdSecretFiles(id, files) {
      const found = await specOf(id);
      if (!found) throw new DockerError('not_found', `container ${id} does not exist`);
      requireSecrets(id, found.secretKeys, files);
      if (!found.secretKeys.length) return;
      const user = found.info.Config.User ?? '';
      keeper.set(found.info.Id, found.info.Name.replace(/^\//, ''), user, files);
      if (found.info.State.Running) await deliverSecretFiles(docker.getContainer(found.info.Id), files, user, callTimeoutMs);
    },

    removeContainer: removeQuietly,

    async recreateContainer(id, o = {}) {
      const found = await specOf(id);
      if (!found) throw new DockerError('not_found', `container ${id} does not exist`);
      const files = o.secretFiles ?? found.spec.secretFiles;
      requireSecrets(id, found.secretKeys, files);
      const spec: ContainerSpec = { ...found.spec };
      if (files && found.secretKeys.length) spec.secretFiles = files;
      else delete spec.secretFiles;
      const name = found.info.Name.replace(/^\//, '');
      validateContainerSpec(spec);
      const imageId = await checkSpecImage(spec);
      await ensureVolumes(spec);
      // Created under a temporary name first: if the engine refuses the new one, the old one still runs.
      const tmpName = `${name}-recreate-${randomBytes(4).toString('hex')}`;
      const created = await createChecked(spec, tmpName, imageId);
      try {
        await removeQuietly(found.info.Id);
        await call(`rename container ${tmpName}`, (abortSignal) => docker.getContainer(created).rename({ name, abortSignal }));
        return await startAndDeliver(created, name, spec.secretFiles);
      } catch (err) {
        await removeQuietly(created).catch(() => undefined);
        throw err;
      }
    },

    waitHealthy: (id, o) => waitContainerHealthy(docker, id, o, callTimeoutMs),

    logs: (id, o = {}) => call(`logs of ${id}`, (abortSignal) => logsSnapshot(docker, id, o.tail ?? 200, abortSignal)),

    followLogs: (id, o = {}) => followContainerLogs(docker, id, o, callTimeoutMs),

    async listContainers(labels, o = {}) {
      const found = await call('list containers', (abortSignal) =>
        docker.listContainers({ all: o.all ?? false, filters: { label: labelFilter(labels) }, abortSignal } as Dockerode.ContainerListOptions),
      );
      return found.map(fromListEntry);
    },

    containerStats: (id) => readContainerStats(docker, id, call, baselines),

    events: (o = {}) => followEngineEvents(docker, o, callTimeoutMs, closing.signal),

    async listNetworks(labels) {
      const nets = await call('list networks', (abortSignal) =>
        docker.listNetworks({ filters: { label: labelFilter(labels) }, abortSignal } as Dockerode.NetworkListOptions),
      );
      return nets.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    },

    async listVolumes(labels) {
      const res = await call('list volumes', (abortSignal) =>
        docker.listVolumes({ filters: { label: labelFilter(labels) }, abortSignal } as object),
      );
      return (res.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
    },

    async removeByLabels(labels, o = {}) {
      // An empty selector would match every container on the host.
      if (Object.keys(labels).filter((k) => k !== LABELS.managed).length === 0)
        throw new DockerError('invalid_ref', 'removeByLabels needs at least one label besides the managed one');
      const failures: string[] = [];
      const attempt = async (p: Promise<unknown>) => {
        try {
          await p;
        } catch (err) {
          failures.push((err as Error).message);
        }
      };
      for (const c of await driver.listContainers(labels, { all: true })) await attempt(removeQuietly(c.id));
      for (const n of await driver.listNetworks(labels))
        await attempt(
          call(`remove network ${n.name}`, (abortSignal) => docker.getNetwork(n.id).remove({ abortSignal })).catch((err: unknown) => {
            // A Swarm overlay removed meanwhile is answered 500 "network … not found", not 404.
            if (err instanceof DockerError && (err.code === 'not_found' || /network \S+ not found/i.test(err.message))) return;
            throw err;
          }),
        );
      if (o.volumes ?? true)
        for (const v of await driver.listVolumes(labels))
          await attempt(
            call(`remove volume ${v.name}`, (abortSignal) => docker.getVolume(v.name).remove({ force: true, abortSignal } as object)).catch(
              (err: unknown) => {
                if (err instanceof DockerError && err.code === 'not_found') return;
                throw err;
              },
            ),
          );
      if (o.images ?? true) {
        // A child image (FROM a labelled base) blocks its parent's removal: newest first, then retry the
        // refusals for as long as each pass removes something.
        let pending = (await driver.listImages(labels)).sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((i) => i.id);
        for (;;) {
          const refused: string[] = [];
          for (const id of pending) {
            await driver.removeImage(id).catch((err: unknown) => {
              if (err instanceof DockerError && engineStatus(err.cause) === 409) refused.push(id);
              else failures.push((err as Error).message);
            });
          }
          if (refused.length === 0) break;
          if (refused.length === pending.length) {
            failures.push(`images still in use: ${refused.join(', ')}`);
            break;
          }
          pending = refused;
        }
      }
      if (failures.length) throw new DockerError('engine', `cleanup left things behind: ${failures.join('; ')}`);
    },

    async close() {
      closing.abort();
      closing = new AbortController();
      await keeper.close();
    },
  };
  return driver;
}
