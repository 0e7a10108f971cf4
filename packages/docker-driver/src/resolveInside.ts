import { realpath } from 'node:fs/promises';
import { join, relative, sep, isAbsolute } from 'node:path';
import { DockerError } from './DockerError.js';
import { validateRelativePath } from './validateGitInputs.js';

/**
 * Resolves `rel` under `root` following symlinks, and refuses anything that ends up outside `root`
 * (a symlinked Dockerfile or context pointing at /etc would otherwise be sent to the engine).
 * Returns the real path and its path relative to the real root ('' for the root itself).
 */
export async function resolveInside(root: string, rel: string, what: string): Promise<{ path: string; rel: string }> {
  validateRelativePath(rel, what);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(realRoot, rel));
  } catch {
    throw new DockerError('invalid_path', `${what} "${rel}" does not exist in the repository`);
  }
  const r = relative(realRoot, real);
  if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r))
    throw new DockerError('invalid_path', `${what} "${rel}" resolves outside the repository`);
  return { path: real, rel: r };
}
