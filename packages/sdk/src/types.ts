// Named types for what the API takes and answers, all inferred from the server's router.
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { ClientRouter as AppRouter } from '@cynchro/server';

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
/** GET /apps/{id}/deployments: a page of the release history and the cursor of the next one. */
export type DeploymentsPage = RouterOutputs['apps']['deployments'];
/** POST /apps/{id}/rollback (202). */
export type RollbackResult = RouterOutputs['apps']['rollback'];
export type LogLine = RouterOutputs['apps']['logs']['lines'][number];
export type DeploymentLogs = RouterOutputs['apps']['deploymentLogs'];
export type DeploymentLogLine = DeploymentLogs['lines'][number];
/** GET /apps/{id}/stats: each service of the current release with its running replicas' usage. */
export type AppStats = RouterOutputs['stats']['app'];
export type ReplicaStats = AppStats['services'][number]['replicas'][number];
export type Secret = RouterOutputs['secrets']['get'];
export type SecretData = RouterInputs['secrets']['put']['data'];
export type SealStatus = RouterOutputs['admin']['sealStatus'];
export type ClaimResult = RouterOutputs['admin']['claim'];
export type UnsealResult = RouterOutputs['admin']['unseal'];
/** A machine apps run on (GET /admin/nodes): the one engine, or a node of the Swarm cluster. */
export type RuntimeNode = RouterOutputs['admin']['nodes']['nodes'][number];

/** What login, register, refresh and switch-org answer: the user, a new session's tokens, the org it acts in. */
export type AuthResult = RouterOutputs['auth']['login'];
/** GET /auth/me: the user, the org the session acts in, and the role there. */
export type Me = RouterOutputs['auth']['me'];

/** An org you belong to, with your role in it. */
export type Org = RouterOutputs['orgs']['list']['orgs'][number];
export type OrgRole = Org['role'];
export type Member = RouterOutputs['orgs']['members']['members'][number];
export type Invitation = RouterOutputs['orgs']['invitations']['invitations'][number];
export interface InviteInput {
  email: string;
  role: OrgRole;
}
/** POST /orgs/{orgId}/invitations: the invitation and its token (shown once; the invitee accepts with it). */
export type CreatedInvitation = RouterOutputs['orgs']['invite'];
export type AcceptedInvitation = RouterOutputs['invitations']['accept'];

/** An API token's metadata (never its secret). */
export type ApiToken = RouterOutputs['tokens']['list']['tokens'][number];
export type ApiTokenScope = ApiToken['scopes'][number];
export type CreateApiTokenInput = RouterInputs['tokens']['create'];
/** POST /tokens: the token and its secret (`cyn_…`, shown once). */
export type CreatedApiToken = RouterOutputs['tokens']['create'];

export type AuditPage = RouterOutputs['audit']['list'];
export type AuditEvent = AuditPage['events'][number];
/** A page of the operators' own log (GET /admin/audit). */
export type OperatorAuditPage = RouterOutputs['admin']['audit'];
export interface AuditQuery {
  /** 1–100; the server's default when omitted. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  before?: string;
}

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
