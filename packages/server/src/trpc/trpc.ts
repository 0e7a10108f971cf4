import { initTRPC } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { AppError, type ErrorBody, type ErrorCode } from '../errors/app-error.js';
import { toAppError } from '../errors/to-app-error.js';
import type { Context } from './context.js';

export type Meta = OpenApiMeta<{
  /** REST success status when it is not 200 (the reference's 202 for /deploy). */
  successStatus?: number;
  /** Error codes this operation can answer, documented in /openapi.json. */
  errors?: ErrorCode[];
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
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'TOO_MANY_REQUESTS', 503: 'SERVICE_UNAVAILABLE',
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
export const publicProcedure = t.procedure;

/** Requires a live session; puts `ctx.auth` in place. */
export const authedProcedure = t.procedure.use(async ({ ctx, next }) => {
  const auth = await ctx.services.auth.authenticate(ctx.bearerToken);
  return next({ ctx: { ...ctx, auth } });
});

/** Operators only: a normal login is not enough, the email must be in ADMIN_EMAILS. */
export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!ctx.services.auth.isAdmin(ctx.auth)) throw new AppError('forbidden', 'Operators only: this account is not in ADMIN_EMAILS');
  return next();
});
