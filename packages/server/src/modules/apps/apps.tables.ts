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
  status: 'deploying' | 'running' | 'stopped' | 'failed';
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
  trigger: 'api' | 'webhook' | 'restart' | 'redeploy';
  commit_sha: string | null;
  error: string | null;
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
