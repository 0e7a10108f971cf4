import { TRPCClientError } from '@trpc/client';

/** One error class for every failure the API answers: `code` is the reference's error code. */
export class CynchroError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly retryAfter: number | undefined;

  constructor(code: string, message: string, status: number, details?: unknown, retryAfter?: number) {
    super(message);
    this.name = 'CynchroError';
    this.code = code;
    this.status = status;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Field → messages, for `validation` errors. */
  get fieldErrors(): Record<string, string[]> {
    const d = this.details as { fieldErrors?: Record<string, string[]> } | undefined;
    return d?.fieldErrors ?? {};
  }

  static from(err: unknown): CynchroError {
    if (err instanceof CynchroError) return err;
    if (err instanceof TRPCClientError) {
      const data = (err.data ?? {}) as { httpStatus?: number; appError?: { error: string; message: string; details?: unknown; retryAfter?: number } };
      if (data.appError) {
        return new CynchroError(data.appError.error, data.appError.message, data.httpStatus ?? 500, data.appError.details, data.appError.retryAfter);
      }
      // No body we understand: a network failure or a proxy's page.
      return new CynchroError('network', err.message || 'Request failed', data.httpStatus ?? 0);
    }
    return new CynchroError('network', err instanceof Error ? err.message : String(err), 0);
  }
}
