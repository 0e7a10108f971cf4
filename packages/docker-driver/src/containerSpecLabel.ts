import type { ContainerSpec, Labels } from './types.js';

/**
 * The spec a container was created from, kept on the container itself, so restart/recreate works after a
 * control-plane restart. Env values and secret contents are not in it: env is read back from the container,
 * secret files exist only in memory.
 */
export const SPEC_LABEL = 'cloud.cynchro.spec';

interface StoredSpec {
  v: 1;
  name: string;
  image: string;
  imageId?: string;
  command?: string[];
  envKeys: string[];
  port?: number;
  cpu?: number;
  memoryMb?: number;
  network?: string;
  aliases?: string[];
  volumes?: { name: string; path: string }[];
  secretKeys: string[];
  pidsLimit?: number;
}

export function encodeSpec(spec: ContainerSpec): string {
  const s: StoredSpec = {
    v: 1,
    name: spec.name,
    image: spec.image,
    envKeys: Object.keys(spec.env ?? {}),
    secretKeys: Object.keys(spec.secretFiles ?? {}),
  };
  if (spec.imageId) s.imageId = spec.imageId;
  if (spec.command) s.command = spec.command;
  if (spec.port !== undefined) s.port = spec.port;
  if (spec.cpu !== undefined) s.cpu = spec.cpu;
  if (spec.memoryMb !== undefined) s.memoryMb = spec.memoryMb;
  if (spec.network) s.network = spec.network;
  if (spec.aliases?.length) s.aliases = spec.aliases;
  if (spec.volumes?.length) s.volumes = spec.volumes;
  if (spec.pidsLimit !== undefined) s.pidsLimit = spec.pidsLimit;
  return JSON.stringify(s);
}

/** The stored spec with env values from the container's Env (image defaults for other keys are left out). */
export function decodeSpec(
  labels: Labels,
  containerEnv: string[],
): (Omit<ContainerSpec, 'secretFiles'> & { secretKeys: string[] }) | null {
  const raw = labels[SPEC_LABEL];
  if (!raw) return null;
  let s: StoredSpec;
  try {
    s = JSON.parse(raw) as StoredSpec;
  } catch {
    return null;
  }
  const envMap = new Map<string, string>();
  for (const kv of containerEnv) {
    const i = kv.indexOf('=');
    if (i > 0) envMap.set(kv.slice(0, i), kv.slice(i + 1));
  }
  const env: Record<string, string> = {};
  for (const k of s.envKeys) env[k] = envMap.get(k) ?? '';
  const userLabels = { ...labels };
  delete userLabels[SPEC_LABEL];
  const spec: Omit<ContainerSpec, 'secretFiles'> & { secretKeys: string[] } = {
    name: s.name,
    image: s.image,
    env,
    labels: userLabels,
    secretKeys: s.secretKeys,
  };
  if (s.imageId) spec.imageId = s.imageId;
  if (s.command) spec.command = s.command;
  if (s.port !== undefined) spec.port = s.port;
  if (s.cpu !== undefined) spec.cpu = s.cpu;
  if (s.memoryMb !== undefined) spec.memoryMb = s.memoryMb;
  if (s.network) spec.network = s.network;
  if (s.aliases) spec.aliases = s.aliases;
  if (s.volumes) spec.volumes = s.volumes;
  if (s.pidsLimit !== undefined) spec.pidsLimit = s.pidsLimit;
  return spec;
}
