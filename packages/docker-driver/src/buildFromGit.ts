import type Dockerode from 'dockerode';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContextDir, buildLimits } from './buildImage.js';
import { cloneRepo } from './cloneRepo.js';
import { DockerError } from './DockerError.js';
import { resolveInside } from './resolveInside.js';
import type { BuildFromGitOptions } from './types.js';
import { validateBranch, validateCommit, validateRelativePath, validateRepoUrl } from './validateGitInputs.js';
import { validateImageRef } from './validateImageRef.js';

export const DEFAULT_BUILD_TIMEOUT_MS = 20 * 60_000;

/**
 * Clone (shallow, one branch, optionally a pinned commit) into a private temp dir, then build through the
 * engine API. Every input is checked before any process starts; paths are checked again with realpath once the
 * checkout exists, before anything is sent to the engine.
 */
export async function buildFromGit(
  docker: Dockerode,
  o: BuildFromGitOptions,
  driverAllowHosts: readonly string[],
  callTimeoutMs?: number,
): Promise<{ imageId: string; tag: string; commitSha: string }> {
  const allowHosts = [...driverAllowHosts, ...(o.allowHosts ?? [])];
  const url = validateRepoUrl(o.repoUrl, allowHosts);
  validateBranch(o.branch);
  if (o.commit) validateCommit(o.commit);
  const contextRel = o.context || '.';
  const dockerfileRel = o.dockerfile || 'Dockerfile';
  validateRelativePath(contextRel, 'context');
  validateRelativePath(dockerfileRel, 'dockerfile');
  validateImageRef(o.tag, 'tag');
  if (o.token !== undefined && /[\r\n]/.test(o.token)) throw new DockerError('invalid_ref', 'token must be a single line');
  buildLimits(o.cpu, o.memoryMb);

  const timeoutMs = o.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const remaining = () => Math.max(deadline - Date.now(), 1);
  // mkdtemp creates the directory 0700: the checkout (and the private HOME git runs with) is ours alone.
  const dir = await mkdtemp(join(tmpdir(), 'cynchro-build-'));
  try {
    const { checkout, commitSha } = await cloneRepo({
      url,
      branch: o.branch,
      ...(o.commit ? { commit: o.commit } : {}),
      ...(o.token ? { token: o.token } : {}),
      allowHosts,
      dir,
      ...(o.onLine ? { onLine: o.onLine } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      timeoutMs: remaining(),
    });
    const context = await resolveInside(checkout, contextRel, 'context');
    if (!(await stat(context.path)).isDirectory()) throw new DockerError('invalid_path', `context "${contextRel}" is not a directory`);
    const imageId = await buildContextDir(docker, context.path, dockerfileRel, {
      tag: o.tag,
      labels: o.labels,
      ...(o.onLine ? { onLine: o.onLine } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      ...(o.memoryMb !== undefined ? { memoryMb: o.memoryMb } : {}),
      ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}),
      timeoutMs: remaining(),
    });
    return { imageId, tag: o.tag, commitSha };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
