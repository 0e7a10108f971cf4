// In-process notifications: the owners of state announce changes here (the deployments module, the vault service,
// the runtime), and whoever cares subscribes (the worker, the reconciler, live log streams). Created once in the
// composition root and passed in Deps, never a module singleton.
import { EventEmitter } from 'node:events';
import type { Trigger } from '../modules/deployments/deployment-status.js';
import type { ReconcileAction } from '../modules/reconcile/reconciler.js';
import type { RuntimeEvent } from '../modules/runtime/app-runtime.js';

export interface DeploymentLogEvent {
  deploymentId: string;
  id: number;
  at: string;
  stream: string;
  text: string;
}

export interface EventMap {
  'deployment-log': [DeploymentLogEvent];
  /**
   * Every transition of a job, `queued` included (the worker wakes on it), with the job's trigger and its
   * timestamps as written (`finishedAt` is set once it is final).
   */
  'deployment-status': [{ deploymentId: string; appId: string; status: string; trigger: Trigger; createdAt: string; finishedAt: string | null }];
  /** A running job was asked to cancel (by a request or a stop): its worker aborts it. */
  'deployment-cancel': [{ deploymentId: string; appId: string }];
  /** The app's traffic now goes to this deployment's containers (null: the app was deleted). */
  'app-switched': [{ appId: string; deploymentId: string | null }];
  'app-status': [{ appId: string; status: string; reason: string | null }];
  /** What the runtime saw happen to replicas (normalised engine events). */
  runtime: [RuntimeEvent];
  /** A membership changed (role null: the member left or was removed); sessions and tokens follow at once. */
  membership: [{ orgId: string; userId: string; role: import('../modules/orgs/roles.js').Role | null }];
  /** An API token was revoked: streams opened with it close. */
  'token-revoked': [{ tokenId: string }];
  /** The vault has its keys again: work that waited for them may run. */
  'vault-unsealed': [];
  /** An image build of one service ended (the metrics count them). */
  'build-finished': [{ appId: string; deploymentId: string; service: string; outcome: 'succeeded' | 'failed' | 'canceled'; seconds: number }];
  /** The reconciler changed something to restore an app's desired state (`count` containers, or 1 for the app). */
  'reconcile-action': [{ appId: string; kind: ReconcileAction; count: number }];
}

export class AppEvents extends EventEmitter<EventMap> {
  constructor() {
    super();
    // Every open log stream listens; the count is bounded by connections, not a leak.
    this.setMaxListeners(0);
  }
}
