// The status vocabulary of deployments (the per-app job queue) and apps, and the one rule that derives an app's
// status from fresh rows. Nothing else defines these sets.
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';

export type DeploymentStatus = DeploymentsTable['status'];
export type Trigger = DeploymentsTable['trigger'];
export type AppStatus = AppsTable['status'];

export const FINAL_STATUSES = ['succeeded', 'failed', 'canceled'] as const satisfies readonly DeploymentStatus[];
export const ACTIVE_STATUSES = ['building', 'deploying'] as const satisfies readonly DeploymentStatus[];
export const NON_FINAL_STATUSES = ['queued', ...ACTIVE_STATUSES] as const satisfies readonly DeploymentStatus[];

export function isFinal(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

/** Jobs that roll out a release (and so may become the app's current deployment); `stop` only stops. */
export function rollsOut(trigger: Trigger): boolean {
  return trigger !== 'stop';
}

export interface DerivedStatus {
  status: AppStatus;
  reason: string | null;
}

/**
 * An app's status from its own row, its jobs not yet final and its newest final deployment:
 * - `stopped` when a stop is what was last asked for;
 * - `deploying` while its first release is on its way;
 * - `failed` when nothing ever served (the newest deployment's error says why), or when the runtime reports that
 *   the current release cannot serve (crash loop, OOM, missing containers it cannot recreate);
 * - `running` otherwise, with the runtime's note (e.g. one replica of three down) as the reason.
 */
export function deriveAppStatus(
  app: Pick<AppsTable, 'desired_state' | 'current_deployment_id' | 'health_failed' | 'health_reason'>,
  pending: Pick<DeploymentsTable, 'trigger'>[],
  newestFinal: Pick<DeploymentsTable, 'status' | 'error'> | undefined,
): DerivedStatus {
  if (app.desired_state === 'stopped') return { status: 'stopped', reason: null };
  if (!app.current_deployment_id) {
    if (pending.some((d) => rollsOut(d.trigger))) return { status: 'deploying', reason: null };
    const why = newestFinal?.error ?? (newestFinal ? `the last deployment ${newestFinal.status}` : 'never deployed');
    return { status: 'failed', reason: why };
  }
  if (app.health_failed) return { status: 'failed', reason: app.health_reason };
  return { status: 'running', reason: app.health_reason };
}
