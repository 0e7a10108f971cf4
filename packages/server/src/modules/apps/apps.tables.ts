// Storage types of the apps module (added to db/schema.ts's Database).
import type { Generated } from 'kysely';

export interface AppsTable {
  id: string;
  org_id: string;
  name: string;
  kind: 'image' | 'repo' | 'services';
  /** JSON AppSpec; env values, repo token inside are vault ciphertexts. */
  spec: string;
  domain: string;
  /** Derived by the deployments module (deriveAppStatus) from the columns below and the app's jobs; never set directly. */
  status: 'deploying' | 'running' | 'stopped' | 'failed';
  status_reason: string | null;
  /** What the user last asked for: a stop job sets `stopped`, a release that goes live sets `running`. */
  desired_state: 'running' | 'stopped';
  /** The runtime's report on the current release: 1 = it cannot serve (crash loop, OOM, unrecoverable). */
  health_failed: number;
  health_reason: string | null;
  current_deployment_id: string | null;
  webhook_secret: string | null;
  created_at: string;
  updated_at: string;
}

export interface DomainsTable {
  domain: string;
  app_id: string;
  service: string;
}

export interface DeploymentsTable {
  id: string;
  app_id: string;
  org_id: string;
  status: 'queued' | 'building' | 'deploying' | 'succeeded' | 'failed' | 'canceled';
  /** JSON AppSpec snapshot taken when queued: what this deployment rolls out, exactly. */
  spec: string;
  /** `restart` re-rolls the current release (no build); `stop` stops the app: both queue like deploys. */
  trigger: 'api' | 'webhook' | 'restart' | 'rollback' | 'stop';
  commit_sha: string | null;
  error: string | null;
  /** JSON { service: image reference } once its images are known (built, pulled or reused): what it runs by. */
  images: string | null;
  /** JSON { service: image id or digest } resolved when its images were ready: exactly what it ran. */
  image_ids: string | null;
  /** The deployment whose release this one re-deployed (trigger `rollback`). */
  rollback_of: string | null;
  cancel_requested: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface DeploymentLogsTable {
  id: Generated<number>;
  deployment_id: string;
  at: string;
  stream: string;
  text: string;
}
