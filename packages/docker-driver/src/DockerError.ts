export type DockerErrorCode =
  | 'pull_failed'
  | 'build_failed'
  | 'git_failed'
  | 'invalid_ref'
  | 'invalid_path'
  | 'unsafe_url'
  | 'timeout'
  | 'not_found'
  | 'engine'
  | 'health_timeout';

export class DockerError extends Error {
  override readonly name = 'DockerError';
  readonly code: DockerErrorCode;

  constructor(code: DockerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

interface EngineErrorShape {
  statusCode?: number;
  json?: { message?: string } | string | null;
  message?: string;
}

/** The engine's own words, without dockerode's "(HTTP code 404) no such container -" prefix. */
export function engineMessage(err: unknown): string {
  const e = (err ?? {}) as EngineErrorShape;
  if (e.json && typeof e.json === 'object' && typeof e.json.message === 'string') return e.json.message;
  if (typeof e.json === 'string' && e.json.trim()) return e.json.trim();
  const m = typeof e.message === 'string' ? e.message : String(err);
  return m.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

export function engineStatus(err: unknown): number | undefined {
  const s = (err as EngineErrorShape | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Maps an engine failure to a DockerError, keeping DockerErrors (timeouts) and caller aborts as they are. */
export function toDockerError(err: unknown, what: string, code: DockerErrorCode = 'engine'): Error {
  if (err instanceof DockerError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  if (engineStatus(err) === 404) return new DockerError('not_found', `${what}: ${engineMessage(err)}`, { cause: err });
  return new DockerError(code, `${what}: ${engineMessage(err)}`, { cause: err });
}
