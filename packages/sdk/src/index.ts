export { apiTokenFromEnv, createClient, CynchroClient, call, type ClientOptions, type AppLogs, type DeploymentLogsArea, type SecretScope } from './create-client.js';
export { CynchroError } from './cynchro-error.js';
export { ComposeError, deployInputFromCompose, type ComposeDeployInput, type ComposeOptions, type ComposeProblem, type ComposeService } from './compose.js';
export { MemoryTokenStore, type Tokens, type TokenStore } from './token-store.js';
export type { Credentials } from './session.js';
export type { DeploymentHandle, WaitOptions } from './deployment-handle.js';
export type { AppLogStreamOptions, StreamOptions } from './streams.js';
export type { WebSocketConstructor, WebSocketLike } from './ws.js';
export { TERMINAL_STATUSES } from './types.js';
export type {
  AcceptedInvitation,
  ApiToken,
  ApiTokenScope,
  App,
  AppDetail,
  AppStats,
  AuditEvent,
  AuditPage,
  AuditQuery,
  AuthResult,
  ClaimResult,
  CreateApiTokenInput,
  CreatedApiToken,
  CreatedInvitation,
  DeployInput,
  DeployResult,
  Deployment,
  DeploymentLogLine,
  DeploymentLogs,
  DeploymentStatus,
  DeploymentStreamMessage,
  DeploymentsPage,
  RollbackResult,
  Invitation,
  InviteInput,
  LogLine,
  LogStreamEvent,
  Me,
  Member,
  OperatorAuditPage,
  Org,
  OrgRole,
  ReplicaStats,
  RouterInputs,
  RouterOutputs,
  RuntimeNode,
  SealStatus,
  Secret,
  SecretData,
  UnsealResult,
  Webhook,
} from './types.js';
