// The Swarm half of the driver: one manager engine's Swarm API through dockerode's modem (every call under a
// deadline, errors as DockerError). Services run on whichever nodes the orchestrator picks; this talks only to the
// manager, which answers for the whole cluster (tasks, their logs, nodes).
import Dockerode from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerError, engineMessage, engineStatus, toDockerError } from './DockerError.js';
import { abortReason, DEFAULT_CALL_TIMEOUT_MS, engineCall } from './engineCall.js';
import { CONTAINER_CAPABILITIES, CONTAINER_NOFILE_LIMIT } from './hardening.js';
import { LineSplitter } from './LineSplitter.js';
import { LogDecoder } from './LogDecoder.js';
import { logsSnapshot } from './logsSnapshot.js';
import type { SwarmDriver, SwarmNode, SwarmServiceInfo, SwarmServiceSpec, SwarmTask } from './swarmTypes.js';
import type { Labels, LogLine, RegistryAuth } from './types.js';
import { DEFAULT_PIDS_LIMIT } from './createDockerodeDriver.js';

export interface SwarmDriverOptions {
  docker?: Dockerode;
  callTimeoutMs?: number;
}

const PUSH_TIMEOUT_MS = 10 * 60_000;

type DialOptions = Parameters<Dockerode['modem']['dial']>[0] & { abortSignal?: AbortSignal };

function filters(labels: Labels, extra: Record<string, string[]> = {}): string {
  return JSON.stringify({ ...extra, ...(Object.keys(labels).length ? { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } : {}) });
}

function authHeader(auth?: RegistryAuth): Record<string, string> {
  // The engine wants the header on pushes even without credentials.
  const a = auth ? { username: auth.username, password: auth.password, serveraddress: auth.serveraddress ?? '' } : {};
  return { 'X-Registry-Auth': Buffer.from(JSON.stringify(a)).toString('base64url') };
}

interface RawTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  CreatedAt: string;
  UpdatedAt: string;
  Status?: {
    State?: string;
    Message?: string;
    Err?: string;
    Timestamp?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: { TargetPort?: number; PublishedPort?: number; PublishMode?: string }[] };
  };
  Spec?: { ContainerSpec?: { Labels?: Labels } };
}

export function createSwarmDriver(opts: SwarmDriverOptions = {}): SwarmDriver {
  const docker = opts.docker ?? new Dockerode();
  const callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;

  function dial<T>(what: string, o: DialOptions, timeoutMs = callTimeoutMs, outer?: AbortSignal): Promise<T> {
    return engineCall(
      what,
      timeoutMs,
      (abortSignal) =>
        new Promise<T>((resolve, reject) => {
          docker.modem.dial({ ...o, abortSignal } as DialOptions, (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as T)));
        }),
      outer,
    ).catch((err: unknown) => {
      throw toDockerError(err, what);
    });
  }

  const ok = { 200: true, 201: true, 204: true, 304: true, 404: 'not found', 409: 'conflict', 400: 'bad parameter', 500: 'server error', 503: 'node is not part of a swarm' };

  async function removeRetrying(what: string, path: string, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        await dial(what, { path, method: 'DELETE', statusCodes: ok });
        return;
      } catch (err) {
        if (err instanceof DockerError && err.code === 'not_found') return;
        // In use by tasks still shutting down (a network) or a service being removed (a secret): wait for them.
        if (Date.now() > until) throw err;
        await sleep(250);
      }
    }
  }

  function toTask(t: RawTask, targetPort?: number): SwarmTask {
    const ports = t.Status?.PortStatus?.Ports ?? [];
    const p = ports.find((x) => targetPort === undefined || x.TargetPort === targetPort) ?? ports[0];
    const task: SwarmTask = {
      id: t.ID,
      serviceId: t.ServiceID,
      nodeId: t.NodeID ?? '',
      slot: t.Slot ?? 0,
      desiredState: t.DesiredState,
      state: t.Status?.State ?? 'new',
      message: t.Status?.Message ?? '',
      createdAt: t.CreatedAt,
      updatedAt: t.Status?.Timestamp ?? t.UpdatedAt,
    };
    if (t.Status?.Err) task.error = t.Status.Err;
    if (t.Status?.ContainerStatus?.ContainerID) task.containerId = t.Status.ContainerStatus.ContainerID;
    if (t.Status?.ContainerStatus?.ExitCode !== undefined) task.exitCode = t.Status.ContainerStatus.ExitCode;
    if (p?.PublishedPort) task.hostPort = p.PublishedPort;
    return task;
  }

  function serviceBody(s: SwarmServiceSpec): Record<string, unknown> {
    const resources: Record<string, unknown> = { Limits: { Pids: DEFAULT_PIDS_LIMIT } };
    const limits = resources.Limits as Record<string, number>;
    const reservations: Record<string, number> = {};
    if (s.cpu !== undefined) limits.NanoCPUs = reservations.NanoCPUs = Math.round(s.cpu * 1e9);
    if (s.memoryMb !== undefined) limits.MemoryBytes = reservations.MemoryBytes = Math.round(s.memoryMb * 1024 * 1024);
    if (s.pidsLimit !== undefined) limits.Pids = s.pidsLimit;
    if (Object.keys(reservations).length) resources.Reservations = reservations;
    return {
      Name: s.name,
      Labels: s.labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: s.image,
          ...(s.command ? { Command: s.command } : {}),
          Env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
          Labels: s.labels,
          // As on one engine: a tiny init as PID 1 forwards SIGTERM, so a stop does not wait out the grace period.
          Init: true,
          StopGracePeriod: s.stopGraceSeconds * 1e9,
          CapabilityDrop: ['ALL'],
          CapabilityAdd: [...CONTAINER_CAPABILITIES],
          Ulimits: [{ Name: 'nofile', Soft: CONTAINER_NOFILE_LIMIT.soft, Hard: CONTAINER_NOFILE_LIMIT.hard }],
          Secrets: s.secrets.map((x) => ({ SecretID: x.id, SecretName: x.name, File: { Name: x.file, UID: '0', GID: '0', Mode: 0o400 } })),
          Mounts: s.volumes.map((v) => ({ Type: 'volume', Source: v.name, Target: v.path, VolumeOptions: { Labels: s.labels } })),
        },
        Resources: resources,
        RestartPolicy: { Condition: 'any', Delay: 1e9, MaxAttempts: 0 },
        Placement: { Constraints: s.constraints },
        Networks: [{ Target: s.network, Aliases: s.aliases }],
        LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '3' } },
      },
      Mode: { Replicated: { Replicas: s.replicas } },
      EndpointSpec: {
        // Siblings resolve a service name to its tasks' own addresses: no virtual IP, so no IPVS table whose idle
        // timeout (900 s) silently kills long-lived connections between services.
        Mode: 'dnsrr',
        // Host mode with no published port: each task gets a free port of its node, reached at the node's address.
        ...(s.port !== undefined ? { Ports: [{ Protocol: 'tcp', TargetPort: s.port, PublishMode: 'host' }] } : {}),
      },
    };
  }

  return {
    async swarmId() {
      const info = await dial<{ ID: string }>('inspect swarm', { path: '/swarm', method: 'GET', statusCodes: ok });
      return info.ID;
    },

    async listNodes() {
      const nodes = await dial<
        {
          ID: string;
          Description?: { Hostname?: string; Resources?: { NanoCPUs?: number; MemoryBytes?: number } };
          Spec?: { Role?: string; Availability?: string };
          Status?: { State?: string; Addr?: string };
          ManagerStatus?: { Leader?: boolean; Addr?: string };
        }[]
      >('list nodes', { path: '/nodes', method: 'GET', statusCodes: ok });
      return nodes
        .map((n): SwarmNode => {
          // A manager may report 0.0.0.0 as its status address; its advertised address is in its manager status.
          let addr = n.Status?.Addr ?? '';
          if (!addr || addr === '0.0.0.0') addr = (n.ManagerStatus?.Addr ?? '').replace(/:\d+$/, '');
          return {
            id: n.ID,
            hostname: n.Description?.Hostname ?? '',
            role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
            state: n.Status?.State ?? 'unknown',
            availability: n.Spec?.Availability ?? 'active',
            addr,
            cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
            memoryBytes: n.Description?.Resources?.MemoryBytes ?? 0,
            leader: !!n.ManagerStatus?.Leader,
          };
        })
        .sort((a, b) => Number(b.role === 'manager') - Number(a.role === 'manager') || a.hostname.localeCompare(b.hostname));
    },

    async ensureOverlay(name, labels, o = {}) {
      const found = await dial<{ Id: string; Name: string }[]>('list networks', { path: '/networks?', method: 'GET', options: { filters: JSON.stringify({ name: [name] }) }, statusCodes: ok });
      const same = found.find((n) => n.Name === name);
      if (same) return same.Name;
      try {
        await dial('create overlay network', {
          path: '/networks/create',
          method: 'POST',
          options: { Name: name, Driver: 'overlay', Attachable: true, CheckDuplicate: true, Labels: labels, ...(o.mtu ? { Options: { 'com.docker.network.driver.mtu': String(o.mtu) } } : {}) },
          statusCodes: ok,
        });
      } catch (err) {
        // A concurrent creator won: the network is there, which is all that was asked.
        if (!(err instanceof DockerError && /already exists/i.test(err.message))) throw err;
      }
      return name;
    },

    async listOverlays(labels) {
      const found = await dial<{ Id: string; Name: string; Labels?: Labels; Driver: string }[]>('list networks', { path: '/networks?', method: 'GET', options: { filters: filters(labels, { driver: ['overlay'] }) }, statusCodes: ok });
      return found.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    },

    removeOverlay(id, timeoutMs = 30_000) {
      return removeRetrying(`remove network ${id}`, `/networks/${encodeURIComponent(id)}`, timeoutMs);
    },

    async createSecret(name, data, labels) {
      const r = await dial<{ ID: string }>(`create secret ${name}`, {
        // No `?` in the path: the modem would copy the body into the query string, the secret into a URL.
        path: '/secrets/create',
        method: 'POST',
        options: { Name: name, Labels: labels, Data: Buffer.from(data).toString('base64') },
        statusCodes: ok,
      });
      return r.ID;
    },

    async listSecrets(labels) {
      const found = await dial<{ ID: string; Spec: { Name: string; Labels?: Labels } }[]>('list secrets', { path: '/secrets?', method: 'GET', options: { filters: filters(labels) }, statusCodes: ok });
      return found.map((s) => ({ id: s.ID, name: s.Spec.Name, labels: s.Spec.Labels ?? {} }));
    },

    removeSecret(id, timeoutMs = 30_000) {
      return removeRetrying(`remove secret ${id}`, `/secrets/${encodeURIComponent(id)}`, timeoutMs);
    },

    async createService(spec) {
      const r = await dial<{ ID: string }>(`create service ${spec.name}`, {
        path: '/services/create',
        method: 'POST',
        options: serviceBody(spec),
        headers: authHeader(spec.auth),
        statusCodes: ok,
      });
      return r.ID;
    },

    async listServices(labels) {
      const found = await dial<{ ID: string; Version: { Index: number }; Spec: { Name: string; Labels?: Labels; Mode?: { Replicated?: { Replicas?: number } } } }[]>('list services', {
        path: '/services?',
        method: 'GET',
        options: { filters: filters(labels) },
        statusCodes: ok,
      });
      return found.map(
        (s): SwarmServiceInfo => ({
          id: s.ID,
          name: s.Spec.Name,
          labels: s.Spec.Labels ?? {},
          replicas: s.Spec.Mode?.Replicated?.Replicas ?? 0,
          version: s.Version.Index,
          spec: s.Spec as unknown as Record<string, unknown>,
        }),
      );
    },

    async scaleService(id, replicas) {
      // The version read just before makes the update conditional: a concurrent change is retried on a fresh read.
      for (let attempt = 0; ; attempt++) {
        const s = await dial<{ Version: { Index: number }; Spec: Record<string, unknown> & { Mode?: { Replicated?: { Replicas?: number } } } }>(`inspect service ${id}`, { path: `/services/${encodeURIComponent(id)}`, method: 'GET', statusCodes: ok });
        if (s.Spec.Mode?.Replicated?.Replicas === replicas) return;
        try {
          await dial(`scale service ${id}`, {
            path: `/services/${encodeURIComponent(id)}/update?version=${s.Version.Index}`,
            method: 'POST',
            // The body alone: the version is in the path, and the spec must not be copied into the query string.
            options: { _query: {}, _body: { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } } },
            statusCodes: ok,
          });
          return;
        } catch (err) {
          if (attempt >= 3 || !(err instanceof DockerError) || !/out of sequence|update out of/i.test(err.message)) throw err;
        }
      }
    },

    async removeService(id) {
      await dial(`remove service ${id}`, { path: `/services/${encodeURIComponent(id)}`, method: 'DELETE', statusCodes: ok }).catch((err: unknown) => {
        if (err instanceof DockerError && err.code === 'not_found') return;
        throw err;
      });
    },

    async listTasks(serviceIds) {
      const f = serviceIds.length ? JSON.stringify({ service: serviceIds }) : '{}';
      const raw = await dial<RawTask[]>('list tasks', { path: '/tasks?', method: 'GET', options: { filters: f }, statusCodes: ok });
      return raw.map((t) => toTask(t)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    async pushImage(localRef, repo, tag, o = {}) {
      await dial(`tag ${localRef}`, { path: `/images/${encodeURIComponent(localRef)}/tag?`, method: 'POST', options: { repo, tag }, statusCodes: ok });
      const what = `push of ${repo}:${tag}`;
      const stream = await dial<IncomingMessage>(what, {
        path: `/images/${encodeURIComponent(repo)}/push?`,
        method: 'POST',
        options: { tag },
        headers: authHeader(o.auth),
        isStream: true,
        statusCodes: ok,
      } as DialOptions, callTimeoutMs, o.signal);
      const timeoutMs = o.timeoutMs ?? PUSH_TIMEOUT_MS;
      let failure: Error | undefined;
      const timer = setTimeout(() => {
        failure ??= new DockerError('timeout', `${what} did not finish within ${timeoutMs} ms`);
        stream.destroy();
      }, timeoutMs);
      const onAbort = () => {
        failure ??= abortReason(o.signal as AbortSignal);
        stream.destroy();
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      let digest: string | undefined;
      let error: string | undefined;
      const lines = new LineSplitter(1024 * 1024, 'the Docker engine (push progress)');
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (const l of lines.push(chunk)) {
            if (!l.trim()) continue;
            const m = JSON.parse(l) as { status?: string; id?: string; error?: string; errorDetail?: { message?: string }; aux?: { Digest?: string } };
            if (m.error || m.errorDetail) error = m.errorDetail?.message ?? m.error;
            if (m.aux?.Digest) digest = m.aux.Digest;
            if (m.status && !m.id) o.onLine?.(m.status);
          }
        }
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      } finally {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
      }
      if (failure) throw failure;
      if (error) throw new DockerError('pull_failed', `${what} failed: ${error}`);
      if (!digest) throw new DockerError('pull_failed', `${what}: the registry answered no digest`);
      return digest;
    },

    async registryDigest(ref, auth) {
      try {
        const r = await dial<{ Descriptor?: { digest?: string } }>(`registry lookup of ${ref}`, {
          path: `/distribution/${ref}/json`,
          method: 'GET',
          headers: authHeader(auth),
          statusCodes: { ...ok, 401: 'unauthorized', 403: 'forbidden' },
        });
        return r.Descriptor?.digest ?? null;
      } catch (err) {
        // The registry says it has no such image (or will not say without credentials it was not given).
        if (err instanceof DockerError && (err.code === 'not_found' || /unauthorized|forbidden|manifest unknown|not found/i.test(err.message))) return null;
        throw err;
      }
    },

    taskLogs(taskId, o) {
      return engineCall(`logs of task ${taskId}`, callTimeoutMs, (abortSignal) => logsSnapshot(docker, taskId, o.tail, abortSignal, undefined, 'tasks')).catch((err: unknown) => {
        throw toDockerError(err, `logs of task ${taskId}`);
      });
    },

    followTaskLogs(taskId, o) {
      return followTask(taskId, o);
    },
  };

  async function* followTask(taskId: string, o: { signal?: AbortSignal; tail?: number; since?: number }): AsyncGenerator<LogLine> {
    const query: Record<string, unknown> = { follow: true, stdout: true, stderr: true, timestamps: true };
    if (o.since !== undefined) query.since = o.since;
    if (o.tail !== undefined) query.tail = o.tail;
    let stream: IncomingMessage;
    try {
      stream = await dial<IncomingMessage>(`follow logs of task ${taskId}`, { path: `/tasks/${encodeURIComponent(taskId)}/logs?`, method: 'GET', options: query, isStream: true, statusCodes: ok } as DialOptions, callTimeoutMs, o.signal);
    } catch (err) {
      if (o.signal?.aborted || (err instanceof DockerError && err.code === 'not_found') || engineStatus(err) === 404) return;
      throw err;
    }
    const onAbort = () => stream.destroy();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const decoder = new LogDecoder(taskId);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) for (const l of decoder.push(chunk)) yield l;
      for (const l of decoder.flush()) yield l;
    } catch (err) {
      if (!o.signal?.aborted) throw new DockerError('engine', `logs of task ${taskId}: ${engineMessage(err)}`, { cause: err });
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      stream.destroy();
    }
  }
}
