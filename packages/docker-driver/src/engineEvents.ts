import { DockerError } from './DockerError.js';
import { publicLabels } from './containerInfo.js';
import { LABELS, type EngineEvent, type EngineEventAction, type Labels } from './types.js';

/** The engine's action names for the actions we keep (`health_status` is matched as a prefix by the engine). */
const ENGINE_ACTIONS = ['create', 'start', 'die', 'kill', 'stop', 'destroy', 'oom', 'restart', 'health_status'] as const;
const KEPT = new Set<string>(ENGINE_ACTIONS);

/** Attributes the engine adds next to the container's labels in an event's Actor.Attributes. */
const NOT_LABELS = new Set(['name', 'image', 'exitCode', 'signal', 'execID']);

/** The managed label is always filtered on, so a caller cannot end up watching every container on the host. */
export function engineEventLabels(labels: Labels = {}): Labels {
  return { [LABELS.managed]: 'true', ...labels };
}

/**
 * The `filters` query of GET /events. Filtering the actions on the engine's side too keeps the exec_* events of
 * health checks (several per container and interval) off the wire.
 */
export function engineEventFilters(labels: Labels = {}): { type: 'container'[]; label: string[]; event: string[] } {
  return {
    type: ['container'],
    label: Object.entries(engineEventLabels(labels)).map(([k, v]) => `${k}=${v}`),
    event: [...ENGINE_ACTIONS],
  };
}

/** Milliseconds → the engine's `seconds.fraction` timestamp, so `since` keeps millisecond precision. */
export function engineSince(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new DockerError('invalid_ref', `events since ${ms}: not a time in milliseconds`);
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String(whole % 1000).padStart(3, '0')}`;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

function intOrUndefined(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+$/.test(s)) return undefined;
  return Number(s);
}

/** One event as the engine sends it → an EngineEvent, or null for what we do not follow. */
export function normaliseEngineEvent(raw: unknown): EngineEvent | null {
  if (!raw || typeof raw !== 'object') return null;
  const e = raw as RawEvent;
  if ((e.Type ?? 'container') !== 'container') return null;
  const engineAction = e.Action ?? e.status ?? '';
  // "health_status: healthy" (older engines: no colon part).
  const [head, detail] = engineAction.split(/:\s*/, 2) as [string, string | undefined];
  if (!KEPT.has(head)) return null;
  const containerId = e.Actor?.ID ?? e.id;
  if (!containerId) return null;
  const attrs = e.Actor?.Attributes ?? {};
  const labels: Labels = {};
  for (const [k, v] of Object.entries(publicLabels(attrs))) if (!NOT_LABELS.has(k)) labels[k] = v;
  // timeNano is beyond a double's integer precision, but milliseconds survive the division.
  const time = typeof e.timeNano === 'number' ? Math.floor(e.timeNano / 1e6) : typeof e.time === 'number' ? e.time * 1000 : Date.now();
  const action: EngineEventAction = head === 'health_status' ? 'health' : (head as EngineEventAction);
  const ev: EngineEvent = { action, containerId, labels, time };
  if (attrs.name) ev.name = attrs.name.replace(/^\//, '');
  if (action === 'die') {
    const code = intOrUndefined(attrs.exitCode);
    if (code !== undefined) ev.exitCode = code;
  }
  if (action === 'kill') {
    const signal = intOrUndefined(attrs.signal);
    if (signal !== undefined) ev.signal = signal;
  }
  if (action === 'health' && detail) ev.health = detail.trim();
  return ev;
}

/** Parses one line of the stream; a line that is not JSON is skipped rather than ending the follow. */
export function parseEngineEventLine(line: string): EngineEvent | null {
  const t = line.trim();
  if (!t) return null;
  try {
    return normaliseEngineEvent(JSON.parse(t));
  } catch {
    return null;
  }
}
