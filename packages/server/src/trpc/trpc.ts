import { initTRPC } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { AppError, type ErrorBody, type ErrorCode } from '../errors/app-error.js';
import { toAppError } from '../errors/to-app-error.js';
import type { Context } from './context.js';
import type { RateLimitPolicy } from './rate-limit.js';

export type Meta = OpenApiMeta<{
  /** REST success status when it is not 200 (the reference's 202 for /deploy). */
  successStatus?: number;
  /** Error codes this operation can answer, documented in /openapi.json. */
  errors?: ErrorCode[];
  /**
   * The rate-limit policy every call of this procedure counts against (rate-limit.ts), per client, whatever path
   * or batch it came in; such procedures cannot be batched with others.
   */
  rateLimit?: RateLimitPolicy;
}>;

export interface CynchroErrorData {
  code: string;
  httpStatus: number;
  path?: string;
  /** The public REST body `{ error, message, details? }`, also what the SDK reads. */
  appError: ErrorBody;
}

// tRPC's own code follows the HTTP status, so generic tRPC clients see a meaningful code too.
const TRPC_KEY_BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 408: 'TIMEOUT', 409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 426: 'BAD_REQUEST', 429: 'TOO_MANY_REQUESTS',
  431: 'BAD_REQUEST', 503: 'SERVICE_UNAVAILABLE',
};

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    // Never ship stacks, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error }) {
      const appError = toAppError(error);
      const key = TRPC_KEY_BY_STATUS[appError.status] ?? 'INTERNAL_SERVER_ERROR';
      const data: CynchroErrorData = { code: key, httpStatus: appError.status, appError: appError.toBody() };
      if (shape.data.path) data.path = shape.data.path;
      return { message: appError.message, code: TRPC_ERROR_CODES_BY_KEY[key], data };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * The one rate-limit middleware: runs first in every procedure, before authentication and input parsing, so every
 * call counts, including refused and malformed ones. A limited procedure inside a tRPC batch of several calls is
 * refused outright: a batch must not turn one request into many password verifications.
 */
const rateLimited = t.middleware(({ ctx, meta, path, next }) => {
  const policy = meta?.rateLimit;
  if (!policy) return next();
  if (ctx.batchSize > 1) throw new AppError('bad_request', `${path} cannot be called in a batch`);
  const wait = ctx.limiter.hit(policy, ctx.ip);
  if (wait > 0) throw new AppError('rate_limited', 'Too many requests; retry later', { retryAfter: wait });
  return next();
});

export const publicProcedure = t.procedure.use(rateLimited);

/** Requires a live session; puts `ctx.auth` in place. */
export const authenticated = t.middleware(async ({ ctx, next }) => {
  const auth = await ctx.services.auth.authenticate(ctx.bearerToken);
  return next({ ctx: { ...ctx, auth } });
});

/**
 * Operators only: the email must be in ADMIN_EMAILS and the account must have claimed operator rights with the
 * host's operator token (POST /admin/claim).
 */
export const operatorOnly = authenticated.unstable_pipe(async ({ ctx, next }) => {
  await ctx.services.auth.operators.assertOperator(ctx.auth);
  return next();
});

export const authedProcedure = publicProcedure.use(authenticated);
export const adminProcedure = publicProcedure.use(operatorOnly);
