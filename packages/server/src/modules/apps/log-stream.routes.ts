// Live logs over WebSocket: `/apps/:id/logs/stream` follows the app's containers (and the next deployment's after a
// redeploy), `/apps/:id/deployments/:deploymentId/logs/stream` replays a deployment's log and follows it to its end.
// The token is checked like a bearer token and the app must be the caller's, before anything is sent; failures
// close the socket with 4401/4404 and the error code as the reason. A stream ends with 4401 the moment its session
// is revoked (logout, change-password, refresh-token reuse, …) or reaches its end; a user holds at most
// MAX_STREAMS_PER_USER open streams (one more is closed at once with 4429 rate_limited). A plain GET without the
// upgrade answers 426 upgrade_required, a broken handshake 400 bad_request, both in the error shape.
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';

import { AppError } from '../../errors/app-error.js';
import { toAppError } from '../../errors/to-app-error.js';
import { rawErrorResponse } from '../../http/http-errors.js';
import { errorResponses } from '../../http/error-responses.js';
import type { Deps } from '../../deps.js';
import type { Replica, RuntimeEvent } from '../runtime/app-runtime.js';
import type { Services } from '../../services.js';
import { bearerFrom } from '../../trpc/context.js';
import type { AuthContext } from '../auth/auth.service.js';
import { assertAppInScope, authorize } from '../auth/permissions.js';
import { toDeploymentDto } from './apps.service.js';

const HEARTBEAT_MS = 15_000;
/** Above this many unsent bytes a client is slow: lines are dropped (and counted), never buffered without bound. */
export const MAX_BUFFERED = 1 << 20;

export const CLOSE_CODES: Record<string, number> = {
  missing_bearer_token: 4401,
  invalid_or_expired_token: 4401,
  forbidden: 4403,
  app_not_found: 4404,
  deployment_not_found: 4404,
  rate_limited: 4429,
  sealed: 4503,
  internal: 1011,
};

/** Open log streams (both kinds together) one user may hold. */
export const MAX_STREAMS_PER_USER = 20;

export interface LogStreamOptions {
  maxStreamsPerUser?: number;
}

type StreamDeps = Pick<Deps, 'runtime' | 'events' | 'clock' | 'log'>;

interface Query {
  token?: string;
  tail?: string;
  /** Resume: lines from this moment on (ISO 8601 or unix seconds), instead of `tail`. */
  since?: string;
}

/** Unix seconds of a `since` query value, or null when it is not a time. */
export function parseSince(v: string): number | null {
  const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.floor(n / 1000) : null;
}

function closeWith(socket: WebSocket, err: unknown): void {
  const e = toAppError(err);
  socket.close(CLOSE_CODES[e.code] ?? 4400, e.code);
}

/** Sends JSON, dropping (and counting) what a slow client cannot take. */
export class Sender {
  dropped = 0;
  constructor(private readonly socket: WebSocket) {}
  send(msg: object): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    if (this.dropped) {
      const n = this.dropped;
      this.dropped = 0;
      this.socket.send(JSON.stringify({ type: 'dropped', count: n }));
    }
    this.socket.send(JSON.stringify(msg));
  }
}

export function heartbeat(socket: WebSocket, sender: Sender, clock: Deps['clock'], intervalMs = HEARTBEAT_MS): () => void {
  let alive = true;
  socket.on('pong', () => (alive = true));
  const t = setInterval(() => {
    if (!alive) return socket.terminate();
    alive = false;
    socket.ping();
    // Browsers cannot see pings: a JSON heartbeat keeps idle proxies and clients informed too.
    sender.send({ type: 'heartbeat', at: clock.now().toISOString() });
  }, intervalMs);
  t.unref();
  return () => clearInterval(t);
}

/**
 * The caller of a stream (`?token=` or a bearer header: an access token or an API token), held to the same
 * permission table as the procedures: `read`, and an app-scoped API token only for its app. A refusal is audited.
 */
async function authenticate(services: Services, req: FastifyRequest<{ Params: { id: string }; Querystring: Query }>): Promise<AuthContext> {
  const auth = await services.auth.authenticate(req.query.token || bearerFrom(req.headers.authorization));
  try {
    authorize(auth, 'read');
    assertAppInScope(auth, req.params.id);
  } catch (e) {
    await services.audit.record({ orgId: auth.orgId, actor: { userId: auth.userId, email: auth.email, tokenId: auth.tokenId }, action: 'logs.stream', target: { type: 'app', id: req.params.id, name: null }, outcome: 'denied', ip: req.ip, detail: 'forbidden' });
    throw e;
  }
  return auth;
}

/** A plain HTTP request to a WebSocket endpoint. */
function upgradeRequired(_req: FastifyRequest, reply: FastifyReply) {
  const e = new AppError('upgrade_required', 'This endpoint is a WebSocket: connect with Upgrade: websocket and ?token=<accessToken>');
  return reply.code(e.status).header('Upgrade', 'websocket').header('Connection', 'Upgrade').type('application/json').send(e.toBody());
}

export function logStreamRoutes(deps: StreamDeps, services: Services, opts: LogStreamOptions = {}) {
  const maxPerUser = opts.maxStreamsPerUser ?? MAX_STREAMS_PER_USER;
  const openByUser = new Map<string, number>();

  /**
   * Takes one of the user's stream slots and ties the socket to its session; false (the socket is closed) when the
   * user holds too many or the client left meanwhile. The slot and the watch are released when the socket closes.
   */
  const admit = (socket: WebSocket, auth: AuthContext): boolean => {
    if (socket.readyState !== socket.OPEN) return false;
    const n = openByUser.get(auth.userId) ?? 0;
    if (n >= maxPerUser) {
      socket.close(CLOSE_CODES.rate_limited!, 'rate_limited');
      return false;
    }
    openByUser.set(auth.userId, n + 1);
    const unwatch = services.auth.watchSession(auth, () => socket.close(4401, 'invalid_or_expired_token'));
    socket.once('close', () => {
      unwatch();
      const left = (openByUser.get(auth.userId) ?? 1) - 1;
      if (left > 0) openByUser.set(auth.userId, left);
      else openByUser.delete(auth.userId);
    });
    return true;
  };

  return async (app: FastifyInstance) => {
    await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
    // ws would answer a broken handshake (no Sec-WebSocket-Key, a bad version, …) with a plain-text 400.
    app.websocketServer.on('wsClientError', (err: Error, socket: Socket) => {
      if (!socket.writable) return void socket.destroy();
      const extra: Record<string, string> = /version/i.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {};
      socket.once('finish', () => socket.destroy());
      socket.end(rawErrorResponse(new AppError('bad_request', `WebSocket handshake refused: ${err.message}`), extra));
    });

    app.route<{ Params: { id: string }; Querystring: Query }>({ method: 'GET', url: '/apps/:id/logs/stream', handler: upgradeRequired, wsHandler: async (socket, req) => {
      let auth: AuthContext;
      let appRow;
      try {
        auth = await authenticate(services, req);
        appRow = await services.apps.require(auth, req.params.id);
      } catch (e) {
        return closeWith(socket, e);
      }
      if (!admit(socket, auth)) return;
      const tail = Math.min(Math.max(Number(req.query.tail ?? 0) || 0, 0), 2000);
      const since = req.query.since ? parseSince(req.query.since) : undefined;
      if (since === null) return socket.close(4400, 'validation');
      const sender = new Sender(socket);
      const stopBeat = heartbeat(socket, sender, deps.clock);
      const followers = new Map<string, AbortController>();
      let closed = false;

      const follow = (c: Replica, opts: { tail?: number; since?: number }) => {
        if (followers.has(c.id) || closed) return;
        const ac = new AbortController();
        followers.set(c.id, ac);
        const service = c.service;
        const replica = c.index + 1;
        void (async () => {
          try {
            for await (const l of deps.runtime.followLogs(c.id, { signal: ac.signal, ...opts })) {
              sender.send({ type: 'log', service, replica, replicaId: c.id, stream: l.stream, timestamp: l.timestamp, text: l.text });
            }
          } catch (e) {
            if (!ac.signal.aborted) deps.log.debug({ err: e }, 'log follow ended');
          } finally {
            if (followers.get(c.id) === ac) followers.delete(c.id);
          }
        })();
      };

      const onSwitch = async ({ appId, deploymentId }: { appId: string; deploymentId: string | null }) => {
        if (appId !== appRow.id || closed) return;
        if (!deploymentId) {
          const still = await services.apps.require(auth, appId).catch(() => null);
          if (!still) socket.close(4404, 'app_not_found');
          return;
        }
        const next = await deps.runtime.replicas(appId, deploymentId);
        // New containers first (from their start, so their boot lines are not lost), then drop the old followers.
        const keep = new Set(next.map((c) => c.id));
        for (const c of next) follow(c, { since: Math.floor(Date.parse(c.createdAt) / 1000) });
        for (const [id, ac] of followers) if (!keep.has(id)) ac.abort();
        sender.send({ type: 'switched', deploymentId });
      };
      const listener = (e: { appId: string; deploymentId: string | null }) => void onSwitch(e).catch(() => {});
      // A replica recreated by the reconciler (after `docker rm -f`, say) is a new container of the same release.
      const onRuntime = (e: RuntimeEvent) => {
        if (e.type !== 'replica-up' || e.appId !== appRow.id || closed) return;
        void deps.runtime
          .replicas(e.appId, e.deploymentId)
          .then((rs) => rs.filter((r) => r.id === e.replicaId).forEach((r) => follow(r, { since: Math.floor(Date.parse(r.createdAt) / 1000) })))
          .catch(() => {});
      };
      deps.events.on('app-switched', listener);
      deps.events.on('runtime', onRuntime);
      socket.on('close', () => {
        closed = true;
        stopBeat();
        deps.events.off('app-switched', listener);
        deps.events.off('runtime', onRuntime);
        for (const ac of followers.values()) ac.abort();
      });
      for (const c of await services.apps.currentReplicas(appRow)) follow(c, since !== undefined ? { since } : { tail });
      // `at` (server clock) is where a client that saw no line yet resumes from after a reconnect.
      sender.send({ type: 'ready', appId: appRow.id, deploymentId: appRow.current_deployment_id, at: deps.clock.now().toISOString() });
    } });

    app.route<{ Params: { id: string; deploymentId: string }; Querystring: Query }>({
      method: 'GET',
      url: '/apps/:id/deployments/:deploymentId/logs/stream',
      handler: upgradeRequired,
      wsHandler: async (socket, req) => {
        let deployment;
        try {
          const auth = await authenticate(services, req);
          deployment = await services.apps.requireDeployment(auth, req.params.id, req.params.deploymentId);
          if (!admit(socket, auth)) return;
        } catch (e) {
          return closeWith(socket, e);
        }
        const sender = new Sender(socket);
        const stopBeat = heartbeat(socket, sender, deps.clock);
        let lastId = 0;
        const pending: { deploymentId: string; id: number; at: string; stream: string; text: string }[] = [];
        let replaying = true;
        const onLog = (e: { deploymentId: string; id: number; at: string; stream: string; text: string }) => {
          if (e.deploymentId !== deployment.id) return;
          if (replaying) pending.push(e);
          else if (e.id > lastId) {
            lastId = e.id;
            sender.send({ type: 'log', at: e.at, stream: e.stream, text: e.text });
          }
        };
        const finish = async () => {
          const d = await services.apps.requireDeployment({ orgId: deployment.org_id }, deployment.app_id, deployment.id).catch(() => null);
          if (d) sender.send({ type: 'status', deployment: toDeploymentDto(d) });
          socket.close(1000, 'deployment ended');
        };
        const onStatus = (e: { deploymentId: string; status: string }) => {
          if (e.deploymentId === deployment.id && ['succeeded', 'failed', 'canceled'].includes(e.status)) void finish();
        };
        deps.events.on('deployment-log', onLog);
        deps.events.on('deployment-status', onStatus);
        socket.on('close', () => {
          stopBeat();
          deps.events.off('deployment-log', onLog);
          deps.events.off('deployment-status', onStatus);
        });
        const stored = await services.apps.deploymentLogs({ orgId: deployment.org_id } as AuthContext, deployment.app_id, deployment.id);
        for (const l of stored.lines) sender.send({ type: 'log', ...l });
        lastId = stored.lastId;
        replaying = false;
        for (const e of pending) onLog(e);
        pending.length = 0;
        if (['succeeded', 'failed', 'canceled'].includes(stored.deployment.status)) await finish();
      },
    });
  };
}

const STREAM_LIMITS =
  ' The stream closes with 4401 as soon as its session is revoked (logout, change-password, refresh-token reuse) or ends; a user holds at most 20 open log streams, one more closes at once with 4429 `rate_limited`. Without the upgrade the endpoint answers 426 `upgrade_required`; a malformed handshake 400 `bad_request`.';

export const logStreamOpenApi = {
  '/apps/{id}/logs/stream': {
    get: {
      tags: ['Apps'],
      summary: 'Live log stream (WebSocket)',
      description:
        'Upgrade to a WebSocket with `?token=<accessToken>` (or an Authorization header). Messages are JSON: `{type:"ready", at}`, `{type:"log", service, stream, timestamp, text}`, `{type:"heartbeat"}`, `{type:"switched", deploymentId}` after a redeploy, `{type:"dropped", count}` when a slow client missed lines. A bad token closes with 4401, an unknown app with 4404, a bad `since` with 4400; the reason is the error code. `tail` (0–2000) replays recent lines first; `since` (ISO 8601 or unix seconds, second precision) resumes from a moment instead (a reconnecting client skips what it already has by timestamp).' + STREAM_LIMITS,
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'token', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'tail', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 2000 } },
        { name: 'since', in: 'query', required: false, schema: { type: 'string' }, description: 'ISO 8601 or unix seconds' },
      ],
      responses: { '101': { description: 'Switching protocols to a WebSocket' }, ...errorResponses(['bad_request', 'upgrade_required']) },
    },
  },
  '/apps/{id}/deployments/{deploymentId}/logs/stream': {
    get: {
      tags: ['Apps'],
      summary: "A deployment's log, replayed then followed to the end (WebSocket)",
      description:
        'Messages: `{type:"log", at, stream, text}`, then `{type:"status", deployment}` when it ends, and the socket closes with 1000. A bad token closes with 4401, an unknown app or deployment with 4404.' + STREAM_LIMITS,
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'deploymentId', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'token', in: 'query', required: true, schema: { type: 'string' } },
      ],
      responses: { '101': { description: 'Switching protocols to a WebSocket' }, ...errorResponses(['bad_request', 'upgrade_required']) },
    },
  },
};

