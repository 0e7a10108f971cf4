// Converts whatever a transport caught into the AppError it stands for. Unknown errors become `internal`
// with a fixed message: their text (and stack) never reach a client.
import { DockerError } from '@cynchro/docker-driver';
import { TRPCError } from '@trpc/server';
import { ZodError, z } from 'zod';
import { AppError } from './app-error.js';

export function zodToAppError(err: ZodError): AppError {
  const flat = z.flattenError(err) as { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> };
  const fieldErrors: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(flat.fieldErrors)) if (v && v.length) fieldErrors[k] = v;
  return new AppError('validation', 'Invalid input', { details: { formErrors: flat.formErrors, fieldErrors } });
}

/** Engine trouble during an app action (restart, stop, delete, logs) is said plainly, not hidden as `internal`. */
function dockerToAppError(err: DockerError): AppError {
  const busy = err.code === 'engine' || err.code === 'timeout' || err.code === 'health_timeout';
  return new AppError(busy ? 'unavailable' : 'conflict', `Docker: ${err.message}`, { cause: err });
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof DockerError) return dockerToAppError(err);
  if (err instanceof ZodError) return zodToAppError(err);
  if (err instanceof TRPCError) {
    const cause = err.cause;
    if (cause instanceof AppError) return cause;
    if (cause instanceof DockerError) return dockerToAppError(cause);
    if (cause instanceof ZodError) return zodToAppError(cause);
    if (cause && typeof cause === 'object' && (cause as { name?: string }).name === 'ZodError') {
      return zodToAppError(cause as ZodError);
    }
    switch (err.code) {
      case 'NOT_FOUND': return new AppError('not_found', 'No such route');
      case 'METHOD_NOT_SUPPORTED': return new AppError('not_found', 'No such route for this method');
      case 'PARSE_ERROR': return new AppError('validation', 'Malformed request body: ' + err.message);
      case 'BAD_REQUEST': return new AppError('validation', err.message);
      case 'UNSUPPORTED_MEDIA_TYPE': return new AppError('unsupported_media_type', err.message);
      case 'PAYLOAD_TOO_LARGE': return new AppError('payload_too_large', 'Request body too large');
      case 'TOO_MANY_REQUESTS': return new AppError('rate_limited');
      case 'UNAUTHORIZED': return new AppError('invalid_or_expired_token');
      case 'FORBIDDEN': return new AppError('forbidden');
      default: return new AppError('internal', undefined, { cause: err });
    }
  }
  return new AppError('internal', undefined, { cause: err });
}
