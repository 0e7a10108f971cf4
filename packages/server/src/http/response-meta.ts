// One place decides the HTTP status of a procedure's answer on both transports (/trpc and REST):
// errors from the AppError table, successes from the procedure's meta (e.g. 202).
import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import { toAppError } from '../errors/to-app-error.js';
import type { Meta } from '../trpc/trpc.js';

export function procedureMeta(router: AnyTRPCRouter, path: string): Meta | undefined {
  const proc = (router._def.procedures as Record<string, { _def?: { meta?: Meta } }>)[path];
  return proc?._def?.meta;
}

export function makeResponseMeta(router: AnyTRPCRouter, opts: { successStatus: boolean }) {
  return ({ paths, errors }: { paths?: readonly string[] | undefined; errors: readonly TRPCError[] }) => {
    if (errors.length) {
      const e = toAppError(errors[0]);
      const headers: Record<string, string> = {};
      if (e.retryAfter !== undefined) headers['Retry-After'] = String(e.retryAfter);
      // A batch mixing outcomes keeps tRPC's own 207 semantics; a single call gets the table's status.
      return errors.length === 1 && (paths?.length ?? 1) === 1 ? { status: e.status, headers } : { headers };
    }
    if (opts.successStatus && paths?.length === 1) {
      const status = procedureMeta(router, paths[0]!)?.successStatus;
      if (status) return { status };
    }
    return {};
  };
}
