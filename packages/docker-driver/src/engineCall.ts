import { DockerError } from './DockerError.js';

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** The reason a caller-aborted operation rejects with (the signal's own reason when it is an Error). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(typeof r === 'string' ? r : 'The operation was aborted');
  e.name = 'AbortError';
  return e;
}

/**
 * Runs one engine call under a deadline. The signal handed to `fn` aborts the HTTP request; the race makes sure
 * the promise settles even if some code path ignores the signal, so a hung engine cannot hang a deployment.
 */
export async function engineCall<T>(
  what: string,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  if (outer?.aborted) throw abortReason(outer);
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DockerError('timeout', `${what}: no answer from the Docker engine within ${timeoutMs} ms`);
      ac.abort(err);
      reject(err);
    }, timeoutMs);
    if (outer) {
      onAbort = () => {
        const err = abortReason(outer);
        ac.abort(err);
        reject(err);
      };
      outer.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([fn(ac.signal), guard]);
  } catch (err) {
    // dockerode rejects an aborted request with its own AbortError; report why we aborted instead.
    if (ac.signal.aborted && ac.signal.reason instanceof Error) throw ac.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener('abort', onAbort);
  }
}
