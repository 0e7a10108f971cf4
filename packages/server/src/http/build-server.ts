// The HTTP face of the control plane: the tRPC router served twice (/trpc for the SDK, REST through
// trpc-to-openapi), the OpenAPI document and its rendered docs, and the one error shape for every failure.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import { fastifyTRPCOpenApiPlugin } from 'trpc-to-openapi';
import { AppError, type ErrorBody } from '../errors/app-error.js';
import { toAppError } from '../errors/to-app-error.js';
import type { Deps } from '../deps.js';
import type { Services } from '../services.js';
import { logStreamOpenApi, logStreamRoutes } from '../modules/apps/log-stream.routes.js';
import { webhookRoutes, webhooksOpenApi } from '../modules/webhooks/webhooks.routes.js';
import { appRouter, type AppRouter } from '../trpc/app-router.js';
import { bearerFrom, type Context } from '../trpc/context.js';
import { buildOpenApiDocument, type ExtraPaths } from './openapi-document.js';
import { RateLimiter } from './rate-limiter.js';
import { makeResponseMeta } from './response-meta.js';

export const API_VERSION = '0.1.0';
const AUTH_LIMIT = 30;
const AUTH_WINDOW_MS = 5 * 60 * 1000;

export interface BuildServerOptions {
  /** Plain Fastify routes of other modules (webhooks, log streams), registered after the core. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  extraPaths?: ExtraPaths;
  /** Benchmarks raise the /auth limit so they measure the limiter's cost without being stopped by it. */
  authRateLimit?: { limit: number; windowMs: number };
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  if (err.retryAfter !== undefined) void reply.header('Retry-After', String(err.retryAfter));
  return reply.code(err.status).type('application/json').send(err.toBody());
}

function isAuthPath(url: string): boolean {
  const path = url.split('?')[0]!;
  if (path.startsWith('/auth/')) return true;
  if (!path.startsWith('/trpc/')) return false;
  return decodeURIComponent(path.slice(6)).split(',').some((p) => p.startsWith('auth.'));
}

export async function buildServer(deps: Deps, services: Services, opts: BuildServerOptions = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as unknown as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy.length ? deps.config.trustProxy : false,
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: 1024 * 1024,
  });

  const createContext = ({ req }: { req: FastifyRequest | import('node:http').IncomingMessage }): Context => ({
    services,
    bearerToken: bearerFrom(req.headers.authorization),
    ip: 'ip' in req ? (req as FastifyRequest).ip : (req.socket?.remoteAddress ?? ''),
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let e: AppError;
    if (error instanceof AppError) e = error;
    else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (error instanceof SyntaxError && error.statusCode === 400)) {
      e = new AppError('validation', 'Malformed JSON body');
    } else if (error.statusCode === 413) e = new AppError('payload_too_large', 'Request body too large');
    else if (error.statusCode === 415) e = new AppError('unsupported_media_type', error.message);
    else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) e = new AppError('validation', error.message);
    else e = toAppError(error);
    if (e.code === 'internal') request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((_req, reply) => sendError(reply, new AppError('not_found', 'No such route')));

  const authLimiter = new RateLimiter(opts.authRateLimit?.limit ?? AUTH_LIMIT, opts.authRateLimit?.windowMs ?? AUTH_WINDOW_MS);
  app.addHook('onRequest', async (request, reply) => {
    if (!isAuthPath(request.url)) return;
    const wait = authLimiter.hit(request.ip, deps.clock.now().getTime());
    if (wait > 0) return sendError(reply, new AppError('rate_limited', 'Too many requests to /auth; retry later', { retryAfter: wait }));
  });

  app.get('/healthz', { logLevel: 'warn' }, async () => ({ ok: true }));

  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext,
      responseMeta: makeResponseMeta(appRouter, { successStatus: false }),
      onError: ({ error, path }) => {
        if (toAppError(error).code === 'internal') deps.log.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  const openApiDoc = buildOpenApiDocument(appRouter, { baseUrl: deps.config.publicApiUrl, version: API_VERSION, extraPaths: { ...logStreamOpenApi, ...webhooksOpenApi, ...opts.extraPaths } });
  app.get('/openapi.json', async () => openApiDoc);
  await app.register(async (docs) => {
    const { default: scalar } = await import('@scalar/fastify-api-reference');
    await docs.register(scalar, { routePrefix: '/docs', configuration: { url: '/openapi.json', title: 'Cynchro API' } });
  });

  await app.register(logStreamRoutes(deps, services));
  await app.register(webhookRoutes(services));
  for (const plugin of opts.plugins ?? []) await app.register(async (scope) => plugin(scope));

  // REST, in its own scope so the error-body rewrite touches only these routes (/trpc keeps tRPC's shape).
  await app.register(async (rest) => {
    rest.addHook('preHandler', async (request) => {
      // trpc-to-openapi insists on a JSON content type even for body-less POSTs such as /auth/logout.
      if (!request.headers['content-type'] && request.method !== 'GET' && request.method !== 'DELETE') {
        request.headers['content-type'] = 'application/json';
      }
    });
    rest.addHook('onSend', async (_request, reply, payload) => {
      if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
      try {
        const parsed = JSON.parse(payload) as { data?: { appError?: ErrorBody }; error?: unknown };
        if (parsed.data?.appError) return JSON.stringify(parsed.data.appError);
      } catch {
        /* not JSON: leave it */
      }
      return payload;
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
