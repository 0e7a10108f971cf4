// Names and labels the runtime gives what it creates on the engine. Labels are how everything is found again
// (CONTRACT.md); names only make `docker ps` readable.
import { LABELS, type Labels } from '@cynchro/docker-driver';
import type { ReleaseRef } from './app-runtime.js';

/** Beyond CONTRACT.md's labels: which replica a container is, and how to probe it after an engine restart. */
export const EXTRA_LABELS = {
  replica: 'cloud.cynchro.replica',
  port: 'cloud.cynchro.port',
  healthPath: 'cloud.cynchro.health-path',
} as const;

export function releaseLabels(ref: Pick<ReleaseRef, 'appId' | 'orgId'> & { deploymentId?: string }, withDeployment = true): Labels {
  const l: Labels = { [LABELS.managed]: 'true', [LABELS.org]: ref.orgId, [LABELS.app]: ref.appId };
  if (withDeployment && ref.deploymentId) l[LABELS.deployment] = ref.deploymentId;
  return l;
}

export function networkName(appId: string): string {
  return `cynchro-${appId}`;
}

export function volumeName(appId: string, name: string): string {
  return `cynchro-${appId}-${name}`;
}

export function containerName(ref: ReleaseRef, service: string, index: number): string {
  return `cynchro-${ref.appId}-${service}-${ref.deploymentId.slice(-8)}-${index}`;
}

export function builtImageTag(appId: string, deploymentId: string, service: string): string {
  return `cynchro/${appId.replace(/_/g, '-')}:${deploymentId.replace(/_/g, '-')}-${service}`;
}
