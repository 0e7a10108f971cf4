import type Dockerode from 'dockerode';
import { stat } from 'node:fs/promises';
import { buildContextDir, buildLimits } from './buildImage.js';
import { DEFAULT_BUILD_TIMEOUT_MS } from './buildFromGit.js';
import { DockerError } from './DockerError.js';
import type { BuildFromDirectoryOptions } from './types.js';
import { validateRelativePath } from './validateGitInputs.js';
import { validateImageRef } from './validateImageRef.js';

export async function buildFromDirectory(docker: Dockerode, o: BuildFromDirectoryOptions, callTimeoutMs?: number): Promise<{ imageId: string; tag: string }> {
  const dockerfileRel = o.dockerfile || 'Dockerfile';
  validateRelativePath(dockerfileRel, 'dockerfile');
  validateImageRef(o.tag, 'tag');
  buildLimits(o.cpu, o.memoryMb);
  const st = await stat(o.dir).catch(() => null);
  if (!st?.isDirectory()) throw new DockerError('invalid_path', `build directory ${o.dir} does not exist`);
  const imageId = await buildContextDir(docker, o.dir, dockerfileRel, {
    tag: o.tag,
    labels: o.labels,
    ...(o.onLine ? { onLine: o.onLine } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
    ...(o.memoryMb !== undefined ? { memoryMb: o.memoryMb } : {}),
    ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}),
    timeoutMs: o.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS,
  });
  return { imageId, tag: o.tag };
}
