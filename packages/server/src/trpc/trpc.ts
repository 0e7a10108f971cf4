import { initTRPC } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { AppError, type ErrorBody, type ErrorCode } from '../errors/app-error.js';
import { toAppError } from '../errors/to-app-error.js';
import { assertAppInScope, authorize, type Permission } from '../modules/auth/permissions.js';
import type { AuthContext } from '../modules/auth/auth.service.js';
import { describeTarget, targetFromResult, type AuditMeta } from '../modules/audit/audit-targets.js';
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
  /**
   * What the caller needs (permissions.ts). Every procedure declares one; the authorization middleware enforces it
   * for sessions and API tokens alike, and a test walks the router for procedures that declare none.
   */
  permission?: Permission;
  /** The input field naming the procedure's app: app-scoped API tokens reach that app only; the audit names it. */
  app?: 'id' | 'appId' | 'name';
  /** Acts in the org the input's `orgId` names (/orgs/{orgId}/…), with the caller's role there, not the session's org. */
  orgFromInput?: boolean;
  /** How calls are recorded in the audit trail (every mutation declares it; refusals are recorded for every procedure). */
  audit?: AuditMeta;
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

async function rawInput(getRawInput: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const raw = await getRawInput().catch(() => undefined);
  return raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
}

/**
 * Who is calling: a live session or an API token (401 otherwise), acting in its org, or, for /orgs/{orgId}/…
 * procedures, in the org the input names with the caller's role there (404 `org_not_found` when not a member).
 * Public procedures skip it.
 */
const authenticated = t.middleware(async ({ ctx, meta, getRawInput, next }) => {
  if (meta?.permission === 'public') return next({ ctx: { ...ctx, auth: null as unknown as AuthContext } });
  let auth = await ctx.services.auth.authenticate(ctx.bearerToken);
  if (meta?.orgFromInput && auth.tokenId === null) {
    const orgId = (await rawInput(getRawInput)).orgId;
    if (typeof orgId === 'string' && orgId !== auth.orgId) auth = { ...auth, orgId, role: await ctx.services.orgs.requireRole(auth.userId, orgId) };
  }
  return next({ ctx: { ...ctx, auth } });
});

/**
 * The audit middleware: records every call of a procedure whose meta says how (the mutations), with its outcome,
 * and every refused call (403) of any procedure, with the actor (user, token), target, outcome and client IP.
 */
const audited = t.middleware(async ({ ctx, meta, path, type, getRawInput, next }) => {
  const auth = (ctx as { auth?: AuthContext | null }).auth ?? null;
  const spec = meta?.audit;
  if (!auth || spec === false || spec === undefined || spec.recordedBy === 'service') {
    const result = await next();
    if (!result.ok && auth && spec !== false && spec?.recordedBy !== 'service' && toAppError(result.error).code === 'forbidden') {
      const input = spec ? await rawInput(getRawInput) : {};
      await ctx.services.audit.record({
        orgId: auth.orgId,
        actor: { userId: auth.userId, email: auth.email, tokenId: auth.tokenId },
        action: !spec ? path : typeof spec.action === 'function' ? spec.action(input) : spec.action,
        target: null,
        outcome: 'denied',
        ip: ctx.ip,
        detail: 'forbidden',
        log: spec?.log ?? 'org',
      });
    }
    return result;
  }
  const input = await rawInput(getRawInput);
  const before = await describeTarget(spec.target, { input, auth, services: ctx.services, appField: meta?.app }).catch(() => null);
  const result = await next();
  const code = result.ok ? null : toAppError(result.error).code;
  const outcome = result.ok ? 'ok' : code === 'forbidden' ? 'denied' : 'failed';
  if (outcome !== 'denied' && spec.outcomes === 'denied') return result;
  if (!result.ok && type === 'query' && outcome !== 'denied') return result;
  const target = result.ok ? { ...before?.target, ...targetFromResult(spec.target, result.data) } : before?.target;
  await ctx.services.audit.record({
    orgId: (result.ok ? targetFromResult(spec.target, result.data)?.orgId : undefined) ?? before?.orgId ?? auth.orgId,
    actor: { userId: auth.userId, email: auth.email, tokenId: auth.tokenId },
    action: typeof spec.action === 'function' ? spec.action(input) : spec.action,
    target: target ? { type: target.type ?? spec.target, id: target.id ?? null, name: target.name ?? null } : null,
    outcome,
    ip: ctx.ip,
    detail: code,
    log: spec.log ?? 'org',
  });
  return result;
});

/**
 * The permission middleware: the one place a procedure's declared permission is enforced (403 `forbidden`), for
 * sessions and API tokens alike; app-scoped tokens reach only the app the input names.
 */
const authorized = t.middleware(async ({ ctx, meta, path, getRawInput, next }) => {
  const permission = meta?.permission;
  if (!permission) throw new AppError('internal', `${path} declares no permission`);
  if (permission === 'public') return next();
  const auth = (ctx as unknown as { auth: AuthContext }).auth;
  authorize(auth, permission);
  if (permission === 'operator') await ctx.services.auth.operators.assertOperator(auth);
  if (auth.appId !== null) {
    const input = await rawInput(getRawInput);
    const field = meta?.app;
    if (field === 'name') {
      const name = typeof input.name === 'string' ? input.name : '';
      assertAppInScope(auth, await ctx.services.apps.idByName(auth.orgId, name), 'create apps');
    } else if (field) {
      assertAppInScope(auth, typeof input[field] === 'string' ? (input[field] as string) : null, 'reach the whole org');
    } else if (permission !== 'read') {
      assertAppInScope(auth, null, path);
    }
  }
  return next();
});

/** Every procedure: rate limit, then who is calling, the audit record around the rest, then the permission. */
export const procedure = t.procedure.use(rateLimited).use(authenticated).use(audited).use(authorized);

/** The procedure with a signed-in caller in `ctx.auth` (null only for `permission: 'public'`). */
export type ProcedureAuth = AuthContext;
