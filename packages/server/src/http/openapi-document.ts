// /openapi.json: trpc-to-openapi's generated document, corrected so each operation documents its real success
// status (202 for /deploy) and every error code it can answer, all with the one public error schema.
import type { AnyTRPCRouter } from '@trpc/server';
import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { ERROR_CODES } from '../errors/app-error.js';
import { errorResponses } from './error-responses.js';
import type { Meta } from '../trpc/trpc.js';

const ErrorBodySchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', enum: ERROR_CODES },
    message: { type: 'string' },
    details: {
      description: 'For `validation`: `{ formErrors: string[], fieldErrors: { [field]: string[] } }`',
      type: 'object',
      properties: {
        formErrors: { type: 'array', items: { type: 'string' } },
        fieldErrors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      },
    },
    retryAfter: { type: 'integer', description: 'Seconds, for rate_limited (also in the Retry-After header)' },
  },
} as const;

/** Extra documented paths served by plain Fastify routes (webhooks, WebSocket); added by their modules. */
export type ExtraPaths = Record<string, Record<string, unknown>>;

export function buildOpenApiDocument(
  router: AnyTRPCRouter,
  opts: { baseUrl: string; version: string; extraPaths?: ExtraPaths; /** Schemes the extra paths use besides the JWT bearer. */ extraSecuritySchemes?: Record<string, unknown> },
): OpenAPIObject {
  const doc = generateOpenApiDocument(router, {
    title: 'Cynchro API',
    description: 'Self-hosted platform-as-a-service. All /apps, /deploy, /secrets and /admin routes take `Authorization: Bearer <accessToken>`. Errors answer `{ "error": "<code>", "message": "…", "details"?: … }`, those of the HTTP layer too: any request may answer 400 `bad_request` (malformed HTTP, bad escapes, dot segments, a non-origin-form target, no Host), 404 `not_found` (paths are case-sensitive, without a trailing slash), 408 `request_timeout` (a client too slow to send its request) or 431 `header_too_large`.',
    version: opts.version,
    baseUrl: opts.baseUrl,
    securitySchemes: { Authorization: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
  });
  doc.components ??= {};
  doc.components.schemas ??= {};
  doc.components.schemas.Error = ErrorBodySchema as never;
  if (opts.extraSecuritySchemes) doc.components.securitySchemes = { ...doc.components.securitySchemes, ...opts.extraSecuritySchemes } as never;

  const metas = new Map<string, Meta>();
  for (const proc of Object.values(router._def.procedures as Record<string, { _def?: { meta?: Meta } }>)) {
    const m = proc._def?.meta;
    if (m?.openapi) metas.set(`${m.openapi.method.toLowerCase()} ${m.openapi.path}`, m);
  }

  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, { responses?: Record<string, unknown> }>)) {
      if (!op || typeof op !== 'object' || !op.responses) continue;
      const meta = metas.get(`${method} ${p.replace(/\{(\w+)\}/g, '{$1}')}`);
      fixResponses(op.responses, meta);
    }
  }
  for (const [p, item] of Object.entries(opts.extraPaths ?? {})) {
    doc.paths ??= {};
    doc.paths[p] = { ...(doc.paths[p] ?? {}), ...item } as never;
  }
  return doc;
}

function fixResponses(responses: Record<string, unknown>, meta: Meta | undefined): void {
  const ok = responses['200'];
  for (const k of Object.keys(responses)) if (k !== '200') delete responses[k];
  const status = meta?.successStatus ?? 200;
  if (status !== 200) {
    delete responses['200'];
    responses[String(status)] = status === 204 ? { description: 'No content' } : ok;
  }
  Object.assign(responses, errorResponses(meta?.errors ?? []));
}
