// The HTTP face of the control plane: the tRPC router served twice (/trpc for the SDK, REST through
// trpc-to-openapi), the OpenAPI document and its rendered docs, and the one error shape for every failure — the HTTP
// layer's own included (http-errors.ts): malformed requests Node refuses before Fastify, bad escapes, odd request
// targets, a missing Host, slow clients.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
// The adapter alone: the package's root also loads its document generator, needed only for /openapi.json.
import { fastifyTRPCOpenApiPlugin } from 'trpc-to-openapi/fastify';
import { AppError, type ErrorBody } from '../errors/app-error.js';
import { toAppError } from '../errors/to-app-error.js';
import type { Deps } from '../deps.js';
import type { Services } from '../services.js';
import { logStreamOpenApi, logStreamRoutes, type LogStreamOptions } from '../modules/apps/log-stream.routes.js';
import type { Metrics } from '../modules/metrics/metrics.js';
import { instrumentRequests, metricsOpenApi, metricsRoutes, metricsSecuritySchemes } from '../modules/metrics/metrics.routes.js';
import { webhookRoutes, webhooksOpenApi } from '../modules/webhooks/webhooks.routes.js';
import { appRouter, type AppRouter } from '../trpc/app-router.js';
import { bearerFrom, type Context } from '../trpc/context.js';
import { ProcedureLimiter, type RateLimitRule } from '../trpc/rate-limit.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { clientErrorHandler, fastifyErrorToAppError, frameworkErrorToAppError, requestTargetProblem, restRouteMatcher } from './http-errors.js';
import type { buildOpenApiDocument, ExtraPaths } from './openapi-document.js';
import { redactingLogger } from './redact.js';
import { makeResponseMeta } from './response-meta.js';

export const API_VERSION = '0.1.0';

/** Headers of one hop that the /docs forwarding does not copy (Fastify sets its own). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

/** The API server's socket timeouts. Upgraded sockets (log streams) are not subject to them: ws clears them. */
export interface ServerTimeouts {
  /** The request line and headers must arrive within this (slowloris). */
  headersMs: number;
  /** The whole request, body included (bodies are at most 1 MiB). */
  requestMs: number;
  /** A keep-alive connection idle between requests is closed after this; longer than common proxies' 60 s. */
  keepAliveMs: number;
  /** Any socket with no traffic either way for this long is closed. */
  idleMs: number;
  /** How often Node checks connections against headersMs and requestMs (a cut-off comes at most this late). */
  checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 65_000,
  idleMs: 120_000,
  checkIntervalMs: 1_000,
};

/** tRPC batches hold at most this many calls (rate-limited procedures cannot be batched at all). */
export const MAX_BATCH_SIZE = 20;

export interface BuildServerOptions {
  /** Plain Fastify routes of other modules (webhooks, log streams), registered after the core. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  extraPaths?: ExtraPaths;
  /** Benchmarks raise the /auth limit so they measure the limiter's cost without being stopped by it. */
  authRateLimit?: RateLimitRule;
  timeouts?: Partial<ServerTimeouts>;
  logStreams?: LogStreamOptions;
  /** The server's metrics: every request is timed, and GET /metrics serves them (with METRICS_TOKEN). */
  metrics?: Metrics;
  /** The built dashboard served at /ui/ (default: packages/dashboard/dist). */
  dashboardDir?: string;
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  if (err.retryAfter !== undefined) void reply.header('Retry-After', String(err.retryAfter));
  return reply.code(err.status).type('application/json').send(err.toBody());
}

export async function buildServer(deps: Deps, services: Services, opts: BuildServerOptions = {}): Promise<FastifyInstance> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const app: FastifyInstance = Fastify({
    // The request serializer drops `token` query values (WebSocket access tokens) from every logged URL.
    loggerInstance: redactingLogger(deps.log) as unknown as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy.length ? deps.config.trustProxy : false,
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: 1024 * 1024,
    connectionTimeout: timeouts.idleMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
      // Answered below with the error shape instead of Node's empty 400.
      requireHostHeader: false,
    },
    clientErrorHandler,
    frameworkErrors: (error, request, reply) => {
      void sendError(reply, frameworkErrorToAppError(error));
    },
  });

  const limiter = new ProcedureLimiter(deps.clock, opts.authRateLimit ? { auth: opts.authRateLimit } : {});
  const createContext = ({ req, info }: { req: FastifyRequest | import('node:http').IncomingMessage; info?: { isBatchCall?: boolean; calls?: unknown[] } }): Context => ({
    services,
    bearerToken: bearerFrom(req.headers.authorization),
    ip: 'ip' in req ? (req as FastifyRequest).ip : (req.socket?.remoteAddress ?? ''),
    limiter,
    batchSize: info?.isBatchCall ? Math.max(1, info.calls?.length ?? 1) : 1,
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = fastifyErrorToAppError(error);
    if (e.code === 'internal') request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((_req, reply) => sendError(reply, new AppError('not_found', 'No such route')));

  // Odd request targets are refused before any route sees them: absolute-form and asterisk-form targets, dot
  // segments (also percent-encoded), backslashes, and an HTTP/1.1 request without Host.
  // The hooks on every request's path take a callback, not a promise: cheaper (see bench/profile-api.ts).
  app.addHook('onRequest', (request, reply, done) => {
    const problem = requestTargetProblem(request.raw);
    if (problem) return sendError(reply, problem);
    done();
  });

  // An upgrade request answered in plain HTTP (an unknown path, a refused target) owns its socket outright: Node
  // handed it over and forgot it, and it is half-open by default. Close it, or each such request leaks a socket.
  app.addHook('onResponse', (request, _reply, done) => {
    const socket = (request.raw as { upgrade?: boolean }).upgrade ? request.raw.socket : null;
    if (socket && !socket.destroyed) socket.end(() => socket.destroy());
    done();
  });

  // Before any route, so every one is timed; the REST routes by their documented pattern.
  const restRoute = restRouteMatcher(appRouter);
  if (opts.metrics) instrumentRequests(app, opts.metrics, restRoute);

  app.get('/healthz', { logLevel: 'warn' }, async () => ({ ok: true }));

  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext,
      maxBatchSize: MAX_BATCH_SIZE,
      responseMeta: makeResponseMeta(appRouter, { successStatus: false }),
      onError: ({ error, path }) => {
        if (toAppError(error).code === 'internal') deps.log.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  // Built on the first request, not at start, with its generator (trpc-to-openapi's, with zod-openapi and
  // openapi3-ts) loaded then: generating walks every zod schema and leaves megabytes of garbage, and the generator's
  // modules alone hold ~8 MB, which an idle control plane would otherwise keep resident (bench/memory.bench.ts).
  let openApiDoc: Promise<ReturnType<typeof buildOpenApiDocument>> | undefined;
  const loadOpenApiDoc = async () => {
    const { buildOpenApiDocument } = await import('./openapi-document.js');
    return buildOpenApiDocument(appRouter, {
      baseUrl: deps.config.publicApiUrl,
      version: API_VERSION,
      extraPaths: { ...logStreamOpenApi, ...webhooksOpenApi, ...metricsOpenApi, ...opts.extraPaths },
      extraSecuritySchemes: metricsSecuritySchemes,
    });
  };
  app.get('/openapi.json', async () =>
    (openApiDoc ??= loadOpenApiDoc().catch((err: unknown) => {
      openApiDoc = undefined;
      throw err;
    })),
  );
  // /docs: Scalar's reference page. Its plugin carries its whole browser bundle as a ~9 MB string, held twice (the
  // constant and the module's source) for the life of the process: it is loaded on the first visit, in a Fastify
  // instance of its own that these routes forward to, so that a control plane nobody reads the docs of never holds it.
  let docsApp: Promise<FastifyInstance> | undefined;
  const loadDocs = async (): Promise<FastifyInstance> => {
    const { default: scalar } = await import('@scalar/fastify-api-reference');
    const docs = Fastify();
    await docs.register(scalar, { routePrefix: '/docs', configuration: { url: '/openapi.json', title: 'Cynchro API' } });
    await docs.ready();
    return docs;
  };
  const forwardToDocs = async (request: FastifyRequest, reply: FastifyReply) => {
    const docs = await (docsApp ??= loadDocs().catch((err: unknown) => {
      docsApp = undefined;
      throw err;
    }));
    const res = await docs.inject({ method: request.method as 'GET', url: request.url, headers: request.headers });
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) void reply.header(k, v);
    return reply.code(res.statusCode).send(res.rawPayload.length ? res.rawPayload : undefined);
  };
  app.get('/docs', forwardToDocs);
  app.get('/docs/*', forwardToDocs);
  app.addHook('onClose', async () => {
    if (docsApp) await (await docsApp.catch(() => undefined))?.close();
  });

  await app.register(dashboardRoutes(opts.dashboardDir ? { dir: opts.dashboardDir } : {}));
  await app.register(logStreamRoutes(deps, services, opts.logStreams));
  await app.register(webhookRoutes(services));
  if (opts.metrics) await app.register(metricsRoutes(opts.metrics, { token: deps.config.metricsToken, sendError }));
  for (const plugin of opts.plugins ?? []) await app.register(async (scope) => plugin(scope));

  // REST, in its own scope so the error-body rewrite touches only these routes (/trpc keeps tRPC's shape).
  await app.register(async (rest) => {
    // trpc-to-openapi matches paths case-insensitively and after URL normalisation; REST paths are exactly the
    // documented ones (`/AUTH/login` and `/auth/login/` are not routes), checked before the body is read.
    rest.addHook('onRequest', (request, reply, done) => {
      if (!restRoute(request.method, request.url)) return sendError(reply, new AppError('not_found', 'No such route'));
      done();
    });
    rest.addHook('preHandler', (request, _reply, done) => {
      // trpc-to-openapi insists on a JSON content type even for body-less POSTs such as /auth/logout.
      if (!request.headers['content-type'] && request.method !== 'GET' && request.method !== 'DELETE') {
        request.headers['content-type'] = 'application/json';
      }
      done();
    });
    rest.addHook('onSend', (_request, reply, payload, done) => {
      // A 204 (DELETE /tokens/{id}, …) has no body, whatever the procedure answered.
      if (reply.statusCode === 204) {
        reply.removeHeader('content-type');
        return done(null, '');
      }
      if (reply.statusCode < 400 || typeof payload !== 'string') return done(null, payload);
      try {
        const parsed = JSON.parse(payload) as { data?: { appError?: ErrorBody }; error?: unknown };
        if (parsed.data?.appError) return done(null, JSON.stringify(parsed.data.appError));
      } catch {
        /* not JSON: leave it */
      }
      done(null, payload);
    });
    await rest.register(fastifyTRPCOpenApiPlugin, {
      basePath: '/',
      router: appRouter,
      createContext: ({ req }: { req: import('node:http').IncomingMessage }) => createContext({ req: req as unknown as FastifyRequest }),
      responseMeta: makeResponseMeta(appRouter, { successStatus: true }),
      onError: ({ error, path }: { error: import('@trpc/server').TRPCError; path?: string }) => {
        if (toAppError(error).code === 'internal') deps.log.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    } as never);
  });

  return app;
}
