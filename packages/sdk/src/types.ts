// Named types for what the API takes and answers, all inferred from the server's router.
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@cynchro/server';

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** The body of POST /deploy. */
export type DeployInput = RouterInputs['deploy'];
/** What POST /deploy answers (202). */
export type DeployResult = RouterOutputs['deploy'];
export type Webhook = NonNullable<DeployResult['webhook']>;
export type AppDetail = RouterOutputs['apps']['get'];
export type App = AppDetail['app'];
export type Deployment = AppDetail['deployments'][number];
export type DeploymentStatus = Deployment['status'];
export type LogLine = RouterOutputs['apps']['logs']['lines'][number];
export type DeploymentLogs = RouterOutputs['apps']['deploymentLogs'];
export type DeploymentLogLine = DeploymentLogs['lines'][number];
export type Secret = RouterOutputs['secrets']['get'];
export type SecretData = RouterInputs['secrets']['put']['data'];
export type SealStatus = RouterOutputs['admin']['sealStatus'];
export type ClaimResult = RouterOutputs['admin']['claim'];
export type UnsealResult = RouterOutputs['admin']['unseal'];

/** Messages of the live app log stream other than log lines. */
export type LogStreamEvent =
  | { type: 'ready'; appId: string; deploymentId: string | null; at?: string }
  | { type: 'switched'; deploymentId: string }
  | { type: 'dropped'; count: number }
  | { type: 'heartbeat'; at?: string }
  /** The socket closed and the SDK is about to reconnect (with a fresh token after a 4401). */
  | { type: 'reconnecting'; attempt: number; code: number; reason: string };

/** What the deployment log stream yields: its lines, then its final status. */
export type DeploymentStreamMessage = ({ type: 'log' } & DeploymentLogLine) | { type: 'status'; deployment: Deployment };

export const TERMINAL_STATUSES: readonly DeploymentStatus[] = ['succeeded', 'failed', 'canceled'];
