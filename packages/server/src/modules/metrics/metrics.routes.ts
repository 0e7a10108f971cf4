// GET /metrics (Prometheus text format, not a tRPC procedure: it is not JSON) and the hook that times every API
// request. The route answers only a request bearing METRICS_TOKEN; with the token unset, missing or wrong it answers
// exactly what an unknown path answers (404 not_found), so a scanner learns nothing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { errorResponses } from '../../http/error-responses.js';
import { bearerFrom } from '../../trpc/context.js';
import { UNMATCHED_ROUTE, type Metrics } from './metrics.js';

export interface MetricsRouteOptions {
  /** METRICS_TOKEN; empty: the route answers 404 to everyone. */
  token: string;
  /** The server's one way to answer an error (the body every 404 has). */
  sendError(reply: FastifyReply, err: AppError): FastifyReply;
}

/** SHA-256 first, so the comparison takes the same time whatever the lengths. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function metricsRoutes(metrics: Metrics, opts: MetricsRouteOptions) {
  return async (app: FastifyInstance) => {
    app.get('/metrics', { logLevel: 'warn' }, async (req, reply) => {
      const given = bearerFrom(req.headers.authorization);
      if (!opts.token || given === null || !sameToken(given, opts.token)) return opts.sendError(reply, new AppError('not_found', 'No such route'));
      const body = await metrics.scrape();
      return reply.header('cache-control', 'no-store').type(metrics.contentType).send(body);
    });
  };
}

/**
 * Times every request the server answers (from Fastify's start of the request to the response sent), labelled by
 * its route pattern. `restRoute` names the documented REST route a path matches: the REST adapter is one catch-all
 * Fastify route (`/*`), so its pattern alone would say nothing. Hooks on the root instance, added before any route.
 */
export function instrumentRequests(app: FastifyInstance, metrics: Metrics, restRoute: (method: string, url: string) => string | undefined): void {
  const routeOf = (request: FastifyRequest): string => {
    const pattern = request.routeOptions.url;
    if (pattern === undefined) return UNMATCHED_ROUTE;
    if (pattern !== '/*') return pattern;
    return restRoute(request.method, request.url) ?? UNMATCHED_ROUTE;
  };
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.method, routeOf(request), reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

export const metricsOpenApi = {
  '/metrics': {
    get: {
      tags: ['Metrics'],
      summary: 'Prometheus metrics of this control plane',
      description:
        'Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`), for a Prometheus server to scrape. ' +
        'Answers only when `METRICS_TOKEN` is set and sent as `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time); ' +
        'with the variable unset, or the token missing or wrong, it answers 404 `not_found` as an unknown path does. ' +
        'Series: `cynchro_http_request_duration_seconds{method,route,status_code}` (route patterns such as `/apps/:id`, `unmatched` for unknown paths), ' +
        '`cynchro_deployments_total{status,trigger}` (final transitions), `cynchro_deployment_duration_seconds{status,trigger}` (queued to final), ' +
        '`cynchro_deployment_queue_depth{status}` (queued, building, deploying now), `cynchro_builds_total{outcome}`, `cynchro_build_duration_seconds{outcome}`, ' +
        '`cynchro_reconcile_actions_total{kind}`, `cynchro_container_restarts_total`, `cynchro_container_crashes_total{reason}`, `cynchro_vault_sealed` (1 sealed, 0 unsealed). ' +
        'Labels never name an app, a deployment or a raw URL.',
      security: [{ MetricsToken: [] }],
      responses: {
        '200': {
          description: 'The metrics, in the Prometheus text format',
          content: { 'text/plain; version=0.0.4': { schema: { type: 'string', example: '# TYPE cynchro_vault_sealed gauge\ncynchro_vault_sealed 0\n' } } },
        },
        ...errorResponses(['not_found']),
      },
    },
  },
};

export const metricsSecuritySchemes = {
  MetricsToken: { type: 'http', scheme: 'bearer', description: "The server's `METRICS_TOKEN` (GET /metrics only)" },
};
