import { AppError } from '../errors/app-error.js';

export class StepFailed extends Error {
  override name = 'StepFailed';
}

export class Canceled extends Error {
  override name = 'Canceled';
  constructor() {
    super('canceled');
  }
}

/**
 * Runs one pipeline step with its own deadline, under the deployment's abort signal. The step gets a signal that
 * fires on either, so engine calls stop too; a hung step can never hold a deployment forever.
 */
export async function step<T>(name: string, timeoutMs: number, parent: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (parent.aborted) throw new Canceled();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new StepFailed(`${name} timed out after ${Math.round(timeoutMs / 1000)} s`);
      ac.abort(err);
      reject(err);
    }, timeoutMs);
    onAbort = () => {
      ac.abort(parent.reason);
      reject(new Canceled());
    };
    parent.addEventListener('abort', onAbort, { once: true });
  });
  const work = fn(ac.signal);
  // Whichever loses the race must not surface later as an unhandled rejection.
  work.catch(() => {});
  stop.catch(() => {});
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) parent.removeEventListener('abort', onAbort);
  }
}

/** A failure's human-readable reason, for the deployment's `error` (never a stack, never a secret). */
export function reasonOf(e: unknown): string {
  if (e instanceof AppError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message.slice(0, 2000);
  return String(e).slice(0, 2000);
}
