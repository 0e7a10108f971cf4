import { DockerError } from './DockerError.js';
import { validateSecretKeys } from './secretFiles.js';
import type { ContainerSpec } from './types.js';
import { validateImageId, validateImageRef } from './validateImageRef.js';

/** The checks every driver runs before creating a container, so the fake refuses exactly what the engine path does. */
export function validateContainerSpec(spec: ContainerSpec): void {
  validateImageRef(spec.image, 'image');
  if (spec.imageId !== undefined) validateImageId(spec.imageId, 'imageId');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,200}$/.test(spec.name))
    throw new DockerError('invalid_ref', `container name "${spec.name}" must be letters, digits, "_", "." or "-"`);
  if (spec.secretFiles) validateSecretKeys(spec.secretFiles);
  for (const k of Object.keys(spec.env ?? {}))
    if (!k || k.includes('=') || k.includes('\0')) throw new DockerError('invalid_ref', `environment variable name "${k}" is not valid`);
}
