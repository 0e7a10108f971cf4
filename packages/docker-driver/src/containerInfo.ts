import type Dockerode from 'dockerode';
import { SPEC_LABEL } from './containerSpecLabel.js';
import type { ContainerInfo, Labels } from './types.js';

export function publicLabels(labels: Labels | null | undefined): Labels {
  const out = { ...(labels ?? {}) };
  delete out[SPEC_LABEL];
  return out;
}

function specPort(labels: Labels | null | undefined): number | undefined {
  try {
    const p = (JSON.parse(labels?.[SPEC_LABEL] ?? '{}') as { port?: unknown }).port;
    return typeof p === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The 127.0.0.1 host port of `port` (or of the spec's port, or the first published one). */
export function hostPortOf(info: Dockerode.ContainerInspectInfo, port?: number): number | undefined {
  const ports = info.NetworkSettings?.Ports ?? {};
  const want = port ?? specPort(info.Config?.Labels);
  const keys = want !== undefined ? [`${want}/tcp`] : Object.keys(ports);
  for (const k of keys) {
    const bindings = ports[k] ?? [];
    const b = bindings.find((x) => x.HostIp === '127.0.0.1') ?? bindings[0];
    if (b?.HostPort) return Number(b.HostPort);
  }
  return undefined;
}

/** The engine's "never" is Go's zero time. */
function isoOrUndefined(t: string | undefined): string | undefined {
  if (!t || t.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function fromInspect(info: Dockerode.ContainerInspectInfo): ContainerInfo {
  const st = info.State;
  const c: ContainerInfo = {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    labels: publicLabels(info.Config.Labels),
    state: st.Status,
    // The engine counts a container between two restart-policy attempts as running.
    running: st.Running && !st.Restarting,
    createdAt: new Date(info.Created).toISOString(),
    exitCode: st.ExitCode,
    oomKilled: st.OOMKilled,
    restartCount: info.RestartCount,
    restarting: st.Restarting,
  };
  const hp = hostPortOf(info);
  if (hp !== undefined) c.hostPort = hp;
  const startedAt = isoOrUndefined(st.StartedAt);
  if (startedAt) c.startedAt = startedAt;
  const finishedAt = isoOrUndefined(st.FinishedAt);
  if (finishedAt) c.finishedAt = finishedAt;
  return c;
}

export function fromListEntry(e: Dockerode.ContainerInfo): ContainerInfo {
  const want = specPort(e.Labels);
  const c: ContainerInfo = {
    id: e.Id,
    name: (e.Names[0] ?? '').replace(/^\//, ''),
    image: e.Image,
    labels: publicLabels(e.Labels),
    state: e.State,
    running: e.State === 'running',
    createdAt: new Date(e.Created * 1000).toISOString(),
  };
  const p =
    e.Ports.find((x) => x.PublicPort && x.IP === '127.0.0.1' && (want === undefined || x.PrivatePort === want)) ??
    e.Ports.find((x) => x.PublicPort && (want === undefined || x.PrivatePort === want));
  if (p?.PublicPort) c.hostPort = p.PublicPort;
  return c;
}

export function labelFilter(labels: Labels): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}
