// Live logs as async iterators over the server's WebSockets (the bearer goes as `?token=`: an access token or an API
// token). A refused access token (4401) is refreshed and the socket reopened, a refused API token ends the stream;
// an abnormal close is retried with backoff; `break` (the iterator's return()) closes the socket.
import { CynchroError } from './cynchro-error.js';
import type { Session } from './session.js';
import type { DeploymentStreamMessage, LogLine, LogStreamEvent } from './types.js';
import { resolveWebSocket, SocketReader, wsUrl, type WebSocketConstructor } from './ws.js';

export interface StreamContext {
  baseUrl: string;
  session: Session;
  WebSocket?: WebSocketConstructor | undefined;
}

export interface StreamOptions {
  /** Stops the stream: the iterator ends (no error) and the socket is closed. */
  signal?: AbortSignal;
  /** Reconnections in a row, with nothing received in between, before giving up with a `network` error. Default 5. */
  maxReconnects?: number;
}

export interface AppLogStreamOptions extends StreamOptions {
  /** Replay this many recent lines first (0–2000, default 0). Only on the first connection: a reconnect resumes where it left off. */
  tail?: number;
  /** Everything that is not a log line: ready, switched (after a redeploy), dropped (slow reader), heartbeat, reconnecting. */
  onEvent?: (event: LogStreamEvent) => void;
}

const AUTH_RETRIES = 2;
const RESUME_MARGIN_S = 5;

/** Close codes that end a stream with an error (4401 is retried with a fresh access token first, never with an API token). */
function terminalError(code: number, reason: string): CynchroError | null {
  switch (code) {
    case 4401:
      return new CynchroError(reason || 'invalid_or_expired_token', 'The log stream refused the token', 401);
    case 4404:
      return new CynchroError(reason || 'app_not_found', reason === 'deployment_not_found' ? 'No such deployment' : 'No such app', 404);
    case 4403:
      return new CynchroError(reason || 'forbidden', 'Forbidden', 403);
    case 4429:
      return new CynchroError(reason || 'rate_limited', 'Too many open log streams for this user (at most 20)', 429);
    case 4503:
      return new CynchroError(reason || 'sealed', 'The vault is sealed', 503);
    case 4400:
      return new CynchroError(reason || 'validation', 'The log stream refused the request', 400);
    default:
      return null;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

const backoff = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 5_000);

/**
 * The reconnect loop both streams share. `handle` turns one message into what to yield; `done()` tells whether a
 * normal close (1000) ends the stream; `query(first)` builds the query for each connection.
 */
async function* follow<T>(
  ctx: StreamContext,
  path: string,
  opts: StreamOptions & { onReconnect?: (e: { attempt: number; code: number; reason: string }) => void },
  query: (first: boolean) => Record<string, string | number | undefined>,
  handle: (msg: Record<string, unknown>) => T | undefined,
  endsOnNormalClose: boolean,
): AsyncGenerator<T, void, undefined> {
  const Ctor = await resolveWebSocket(ctx.WebSocket);
  const maxReconnects = opts.maxReconnects ?? 5;
  let failures = 0;
  let authFailures = 0;
  let first = true;
  for (;;) {
    if (opts.signal?.aborted) return;
    const token = await ctx.session.accessToken();
    if (!token) throw new CynchroError('missing_bearer_token', 'Not logged in: give credentials or tokens', 401);
    let reader: SocketReader;
    try {
      reader = new SocketReader(Ctor, wsUrl(ctx.baseUrl, path, { ...query(first), token }));
    } catch (e) {
      throw CynchroError.from(e); // an unusable URL, a WebSocket class that refuses it
    }
    first = false;
    try {
      for (;;) {
        const ev = await reader.next(opts.signal);
        if (ev.type === 'aborted') return;
        if (ev.type === 'open') continue;
        if (ev.type === 'message') {
          failures = 0;
          authFailures = 0;
          const out = handle(ev.data as Record<string, unknown>);
          if (out !== undefined) yield out;
          continue;
        }
        // closed
        // A user session's expired access token is refreshed and the socket reopened; an API token is not refreshable.
        if (ev.code === 4401 && !ctx.session.usesApiToken && ++authFailures <= AUTH_RETRIES) {
          opts.onReconnect?.({ attempt: authFailures, code: ev.code, reason: ev.reason });
          await ctx.session.refresh(); // throws a CynchroError when the session is dead
          break;
        }
        const err = terminalError(ev.code, ev.reason);
        if (err) throw err;
        if (ev.code === 1000 && endsOnNormalClose) return;
        if (++failures > maxReconnects) {
          throw new CynchroError('network', `The log stream closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''}) and reconnecting failed ${maxReconnects} times`, 0);
        }
        opts.onReconnect?.({ attempt: failures, code: ev.code, reason: ev.reason });
        await sleep(backoff(failures), opts.signal);
        break;
      }
    } finally {
      reader.close();
    }
  }
}

/** Engine timestamps keep nanoseconds but drop trailing zeros; padded, they compare as strings. */
export function timestampKey(ts: string): string {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : ts;
}

/**
 * Live lines of an app's containers (following redeploys), until `break` or the signal. A reconnect resumes from the
 * last line seen (`since`, second precision) and skips, per service, what was already yielded: nothing is lost or
 * repeated across a dropped connection.
 */
export function streamAppLogs(ctx: StreamContext, appId: string, opts: AppLogStreamOptions = {}): AsyncGenerator<LogLine, void, undefined> {
  const last = new Map<string, string>();
  let readyAt: string | undefined;
  // Lines reach us within milliseconds of their timestamp, one follower per container: resuming a few seconds before
  // the newest line seen covers whatever another replica had in flight, and the per-container check drops repeats.
  const resumeFrom = (): string | undefined => {
    const newest = [...last.values()].sort().at(-1) ?? (readyAt ? timestampKey(readyAt) : undefined);
    return newest ? String(Math.floor(Date.parse(newest.replace(/\.\d+Z$/, 'Z')) / 1000) - RESUME_MARGIN_S) : undefined;
  };
  return follow<LogLine>(
    ctx,
    `/apps/${encodeURIComponent(appId)}/logs/stream`,
    { ...opts, onReconnect: (e) => opts.onEvent?.({ type: 'reconnecting', ...e }) },
    (first) => (first ? { tail: opts.tail ? opts.tail : undefined } : { since: resumeFrom() }),
    (msg) => {
      if (msg.type === 'log') {
        const { service, replica, stream, timestamp, text } = msg as unknown as LogLine;
        const key = timestampKey(timestamp);
        // Per container (or task): lines of different ones are not in one time order, and after a restart the new
        // container of the same replica starts before the old one's last lines.
        const replicaId = (msg as { replicaId?: unknown }).replicaId;
        const who = typeof replicaId === 'string' ? replicaId : `${service}#${replica}`;
        const prev = last.get(who);
        if (prev !== undefined && key <= prev) return undefined; // replayed after a reconnect
        last.set(who, key);
        return { service, replica, stream, timestamp, text };
      }
      if (msg.type === 'ready' && readyAt === undefined && typeof msg.at === 'string') readyAt = msg.at;
      if (typeof msg.type === 'string') opts.onEvent?.(msg as unknown as LogStreamEvent);
      return undefined;
    },
    false,
  );
}

/**
 * A deployment's log, replayed from its start then followed; its last message is `{type:'status', deployment}`
 * once the deployment ended, and then the iterator ends. After a reconnect the replayed lines already seen are skipped.
 */
export async function* streamDeploymentLogs(
  ctx: StreamContext,
  appId: string,
  deploymentId: string,
  opts: StreamOptions = {},
): AsyncGenerator<DeploymentStreamMessage, void, undefined> {
  let seen = 0;
  let replayed = 0;
  const inner = follow<DeploymentStreamMessage>(
    ctx,
    `/apps/${encodeURIComponent(appId)}/deployments/${encodeURIComponent(deploymentId)}/logs/stream`,
    { ...opts, onReconnect: () => (replayed = 0) },
    () => ({}),
    (msg) => {
      if (msg.type === 'log') {
        if (++replayed <= seen) return undefined;
        seen = replayed;
        const { at, stream, text } = msg as { at: string; stream: string; text: string };
        return { type: 'log', at, stream, text };
      }
      if (msg.type === 'status') return { type: 'status', deployment: msg.deployment as Extract<DeploymentStreamMessage, { type: 'status' }>['deployment'] };
      return undefined;
    },
    true,
  );
  yield* inner;
}
