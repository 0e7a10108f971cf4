import type Dockerode from 'dockerode';
import { stat } from 'node:fs/promises';
import { buildImage } from './buildImage.js';
import { DEFAULT_BUILD_TIMEOUT_MS } from './buildFromGit.js';
import { DockerError } from './DockerError.js';
import { packContext } from './packContext.js';
import { resolveInside } from './resolveInside.js';
import type { BuildFromDirectoryOptions } from './types.js';
import { validateRelativePath } from './validateGitInputs.js';
import { validateImageRef } from './validateImageRef.js';

export async function buildFromDirectory(docker: Dockerode, o: BuildFromDirectoryOptions): Promise<{ imageId: string; tag: string }> {
  const dockerfileRel = o.dockerfile || 'Dockerfile';
  validateRelativePath(dockerfileRel, 'dockerfile');
  validateImageRef(o.tag, 'tag');
  const st = await stat(o.dir).catch(() => null);
  if (!st?.isDirectory()) throw new DockerError('invalid_path', `build directory ${o.dir} does not exist`);
  const dockerfile = await resolveInside(o.dir, dockerfileRel, 'dockerfile');
  const tar = await packContext(o.dir, dockerfile.rel);
  const imageId = await buildImage(docker, tar, {
    tag: o.tag,
    labels: o.labels,
    dockerfile: dockerfile.rel,
    ...(o.onLine ? { onLine: o.onLine } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    timeoutMs: o.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS,
  });
  return { imageId, tag: o.tag };
}
