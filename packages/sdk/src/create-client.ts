import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import type { ClientRouter as AppRouter } from '@cynchro/server';
import superjson from 'superjson';
import { CynchroError } from './cynchro-error.js';
import { createDeploymentHandle, type DeploymentHandle, type WaitOptions } from './deployment-handle.js';
import { refreshLink } from './refresh-link.js';
import { Session, type Credentials } from './session.js';
import { streamAppLogs, streamDeploymentLogs, type AppLogStreamOptions, type StreamContext, type StreamOptions } from './streams.js';
import { MemoryTokenStore, type Tokens, type TokenStore } from './token-store.js';
import type {
  AcceptedInvitation,
  ApiToken,
  App,
  AppDetail,
  AppStats,
  AuditPage,
  AuditQuery,
  AuthResult,
  ClaimResult,
  CreateApiTokenInput,
  CreatedApiToken,
  CreatedInvitation,
  DeployInput,
  Deployment,
  DeploymentLogs,
  DeploymentStreamMessage,
  DeploymentsPage,
  Invitation,
  InviteInput,
  LogLine,
  Me,
  Member,
  OperatorAuditPage,
  Org,
  OrgRole,
  RouterInputs,
  RouterOutputs,
  RuntimeNode,
  SealStatus,
  Secret,
  SecretData,
  UnsealResult,
  Webhook,
} from './types.js';
import type { WebSocketConstructor } from './ws.js';

export type { RouterInputs, RouterOutputs } from './types.js';

export interface ClientOptions {
  /** The API's base URL, e.g. http://localhost:3000 */
  url: string;
  /** Log in lazily with these on the first authenticated call, and again if the refresh token dies. */
  credentials?: Credentials;
  /** Start from tokens you already have. */
  tokens?: Tokens;
  /** Where tokens live; memory by default (nothing is persisted unless you give a store). */
  store?: TokenStore;
  /**
   * An API token (`cyn_…`, from `tokens.create`), for CI and scripts: the bearer of every call and the `?token=` of
   * the log streams; never refreshed, never logs in. When none of `apiToken`, `tokens`, `credentials` or `store` is
   * given, the `CYNCHRO_TOKEN` environment variable is used if the runtime has one (Node; never in a browser).
   */
  apiToken?: string;
  fetch?: typeof fetch;
  /** The WebSocket class for live logs; default: the global one, else the `ws` package (Node 20). */
  WebSocket?: WebSocketConstructor;
}

/** `apps.logs(appId)` is a snapshot; `apps.logs.stream(appId)` follows live. */
export interface AppLogs {
  (appId: string, opts?: { tail?: number }): Promise<{ lines: LogLine[] }>;
  /** Live lines as an async iterator over the WebSocket; `break` closes it. */
  stream(appId: string, opts?: AppLogStreamOptions): AsyncGenerator<LogLine, void, undefined>;
}

/** `apps.deployments.logs(appId, id)` is a snapshot; `.stream(appId, id)` replays and follows to the end. */
export interface DeploymentLogsArea {
  (appId: string, deploymentId: string): Promise<DeploymentLogs>;
  stream(appId: string, deploymentId: string, opts?: StreamOptions): AsyncGenerator<DeploymentStreamMessage, void, undefined>;
}

export interface SecretScope {
  /** Scope to one app (an app id); omit for the org-wide secret. */
  appId?: string | undefined;
}

/** `CYNCHRO_TOKEN` from the environment, where the runtime has one (Node, Bun, Deno); null in browsers. */
export function apiTokenFromEnv(): string | null {
  // Through globalThis: the browser build has no `process` (nor its types), and must not reference it bare.
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  if (typeof proc === 'undefined') return null;
  const token = proc.env?.CYNCHRO_TOKEN?.trim();
  return token ? token : null;
}

/** The API token a client acts with: the one given (an empty one counts as none), else CYNCHRO_TOKEN when nothing else says who we are. */
function apiTokenFor(o: ClientOptions): string | null {
  const given = o.apiToken?.trim();
  if (given) return given;
  if (o.tokens || o.credentials || o.store) return null;
  return apiTokenFromEnv();
}

/** Runs a call and turns any failure into a CynchroError. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw CynchroError.from(e);
  }
}

export class CynchroClient {
  /** The raw typed tRPC proxy: every procedure of the API. Errors are TRPCClientError; prefer the typed areas. */
  readonly trpc: TRPCClient<AppRouter>;
  readonly session: Session;
  readonly #stream: StreamContext;

  constructor(readonly options: ClientOptions) {
    const base = options.url.replace(/\/+$/, '');
    const store = options.store ?? new MemoryTokenStore(options.tokens ?? null);
    if (options.tokens && options.store) void store.save(options.tokens);
    this.session = new Session(store, options.credentials ?? null, apiTokenFor(options));
    this.#stream = { baseUrl: base, session: this.session, WebSocket: options.WebSocket };
    const fetchImpl = options.fetch;
    this.session.raw = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${base}/trpc`, transformer: superjson, ...(fetchImpl ? { fetch: fetchImpl } : {}) })],
    });
    this.trpc = createTRPCClient<AppRouter>({
      links: [
        refreshLink(this.session),
        httpLink({
          url: `${base}/trpc`,
          transformer: superjson,
          ...(fetchImpl ? { fetch: fetchImpl } : {}),
          headers: async ({ op }) => {
            if (op.path === 'auth.login' || op.path === 'auth.register' || op.path === 'auth.refresh') return {};
            const token = await this.session.accessToken();
            return token ? { authorization: `Bearer ${token}` } : {};
          },
        }),
      ],
    });
  }

  readonly auth = {
    register: async (input: RouterInputs['auth']['register']): Promise<RouterOutputs['auth']['register']> => {
      const r = await call(() => this.trpc.auth.register.mutate(input));
      await this.session.set({ accessToken: r.accessToken, refreshToken: r.refreshToken });
      return r;
    },
    login: async (input: RouterInputs['auth']['login']): Promise<AuthResult> => {
      const r = await call(() => this.trpc.auth.login.mutate(input));
      await this.session.set({ accessToken: r.accessToken, refreshToken: r.refreshToken });
      return r;
    },
    /** The user, the org this session acts in and the role there. */
    me: (): Promise<Me> => call(() => this.trpc.auth.me.query()),
    /**
     * A new session acting in another org you belong to (`org_not_found` otherwise); its tokens replace the current
     * ones, as a login's do. API tokens act in their own org only (`forbidden`).
     */
    switchOrg: async (orgId: string): Promise<AuthResult> => {
      const r = await call(() => this.trpc.auth.switchOrg.mutate({ orgId }));
      await this.session.set({ accessToken: r.accessToken, refreshToken: r.refreshToken });
      return r;
    },
    /** Rotates tokens now (the client also does this by itself when the access token expires). */
    refresh: async (): Promise<Tokens> => this.session.refresh(),
    logout: async (): Promise<void> => {
      await call(() => this.trpc.auth.logout.mutate());
      this.session.forgetCredentials();
      await this.session.set(null);
    },
    changePassword: async (input: RouterInputs['auth']['changePassword']): Promise<void> => {
      await call(() => this.trpc.auth.changePassword.mutate(input));
    },
    /** The session's access and refresh tokens (null with an API token: see `tokens` for those). */
    tokens: (): Promise<Tokens | null> => this.session.tokens(),
  };

  /** Orgs you belong to, their members and invitations. Every org call names its org by id. */
  readonly orgs = {
    /** Every org you belong to, with your role in each (your personal org included). */
    list: async (): Promise<Org[]> => (await call(() => this.trpc.orgs.list.query())).orgs,
    /** A new org, with you as its owner. Switch to it with `auth.switchOrg(org.id)`. */
    create: async (name: string): Promise<Org> => (await call(() => this.trpc.orgs.create.mutate({ name }))).org,
    /** Owners only. */
    rename: async (orgId: string, name: string): Promise<Org> => (await call(() => this.trpc.orgs.rename.mutate({ orgId, name }))).org,
    /** Any member may list them. */
    members: async (orgId: string): Promise<Member[]> => (await call(() => this.trpc.orgs.members.query({ orgId }))).members,
    /** Owners and admins (only owners change owners); the last owner cannot be demoted (`conflict`). */
    setRole: async (orgId: string, userId: string, role: OrgRole): Promise<Member> =>
      (await call(() => this.trpc.orgs.setRole.mutate({ orgId, userId, role }))).member,
    /** Owners and admins remove members; their sessions acting in the org stop working at once. */
    removeMember: async (orgId: string, userId: string): Promise<void> => {
      await call(() => this.trpc.orgs.removeMember.mutate({ orgId, userId }));
    },
    /**
     * Leaves the org (the last owner cannot: `conflict`). Leaving the org this session acts in ends the session: the
     * server refuses it from then on (`invalid_or_expired_token`), even for `switchOrg`; log in again.
     */
    leave: async (orgId: string): Promise<void> => {
      const me = await this.auth.me();
      await this.orgs.removeMember(orgId, me.user.id);
    },
    /** Owners and admins; the answer's `token` is shown once (valid 7 days): the invitee accepts with it. */
    invite: (orgId: string, input: InviteInput): Promise<CreatedInvitation> =>
      call(() => this.trpc.orgs.invite.mutate({ orgId, email: input.email, role: input.role })),
    /** Pending invitations. */
    invitations: async (orgId: string): Promise<Invitation[]> => (await call(() => this.trpc.orgs.invitations.query({ orgId }))).invitations,
    revokeInvitation: async (orgId: string, invitationId: string): Promise<void> => {
      await call(() => this.trpc.orgs.revokeInvitation.mutate({ orgId, id: invitationId }));
    },
  };

  readonly invitations = {
    /**
     * Joins the org an invitation names; only the invited email may (`forbidden`), and only once
     * (`invitation_not_found` afterwards). Acting in that org takes `auth.switchOrg(orgId)`.
     */
    accept: (token: string): Promise<AcceptedInvitation> => call(() => this.trpc.invitations.accept.mutate({ token })),
  };

  /**
   * API tokens for CI and scripts (created with a user session; API tokens cannot manage tokens). A token acts in
   * its org with its creator's role narrowed to its scopes, and with `appId` on that app only.
   */
  readonly tokens = {
    /** The `secret` (`cyn_…`) is in this answer only: pass it as `createClient({ url, apiToken })` or CYNCHRO_TOKEN. */
    create: (input: CreateApiTokenInput): Promise<CreatedApiToken> => call(() => this.trpc.tokens.create.mutate(input)),
    /** Yours (owners and admins: the org's), without secrets. */
    list: async (): Promise<ApiToken[]> => (await call(() => this.trpc.tokens.list.query())).tokens,
    /** Refused from then on (401 `invalid_or_expired_token`). */
    revoke: async (tokenId: string): Promise<void> => {
      await call(() => this.trpc.tokens.revoke.mutate({ id: tokenId }));
    },
  };

  /** The org's audit log (owners and admins), newest first; pass `nextCursor` as `before` for the next page. */
  readonly audit = {
    list: (query: AuditQuery = {}): Promise<AuditPage> => call(() => this.trpc.audit.list.query(auditQuery(query))),
  };

  /**
   * POST /deploy: creates or updates the app (idempotent on name) and queues a deployment.
   * The handle's `wait()` follows it to the end.
   */
  deploy = async (input: DeployInput): Promise<DeploymentHandle> => {
    const r = await call(() => this.trpc.deploy.mutate(input));
    return createDeploymentHandle(r, {
      stream: this.#stream,
      deploymentLogs: (appId, deploymentId) => this.apps.deployments.logs(appId, deploymentId),
    });
  };

  readonly apps = {
    list: async (): Promise<App[]> => (await call(() => this.trpc.apps.list.query())).apps,
    /** The app, its webhook (repo apps) and its 20 newest deployments. */
    get: (appId: string): Promise<AppDetail> => call(() => this.trpc.apps.get.query({ id: appId })),
    /** An app by id or by name (names are unique per org); `app_not_found` when neither matches. */
    find: async (idOrName: string): Promise<App> => {
      const apps = await this.apps.list();
      const app = apps.find((a) => a.id === idOrName) ?? apps.find((a) => a.name === idOrName);
      if (!app) throw new CynchroError('app_not_found', `No app named or with id "${idOrName}"`, 404);
      return app;
    },
    restart: async (appId: string): Promise<App> => (await call(() => this.trpc.apps.restart.mutate({ id: appId }))).app,
    stop: async (appId: string): Promise<App> => (await call(() => this.trpc.apps.stop.mutate({ id: appId }))).app,
    delete: (appId: string): Promise<{ deleted: true; id: string }> => call(() => this.trpc.apps.delete.mutate({ id: appId })),
    logs: Object.assign(
      (appId: string, opts: { tail?: number } = {}): Promise<{ lines: LogLine[] }> =>
        call(() => this.trpc.apps.logs.query({ id: appId, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) })),
      { stream: (appId: string, opts?: AppLogStreamOptions) => streamAppLogs(this.#stream, appId, opts) },
    ) as AppLogs,
    /**
     * POST /apps/{id}/rollback: re-deploys an earlier succeeded release exactly (no rebuild); by default the newest
     * one before the current release. The handle's `wait()` follows it to the end.
     */
    rollback: async (appId: string, opts: { deploymentId?: string } = {}): Promise<DeploymentHandle & { rollbackOf: string }> => {
      const r = await call(() => this.trpc.apps.rollback.mutate({ id: appId, ...(opts.deploymentId ? { deploymentId: opts.deploymentId } : {}) }));
      const handle = createDeploymentHandle(
        { appId: r.appId, deploymentId: r.deploymentId, domain: '', url: '', status: r.status },
        { stream: this.#stream, deploymentLogs: (a, d) => this.apps.deployments.logs(a, d) },
      );
      return Object.assign(handle, { rollbackOf: r.rollbackOf });
    },
    deployments: {
      /** The app's 20 newest deployments, newest first. */
      list: async (appId: string): Promise<Deployment[]> => (await this.apps.get(appId)).deployments,
      /** One page of the release history, newest first; pass the answer's `nextCursor` as `before` for the next. */
      page: (appId: string, opts: { limit?: number; before?: string } = {}): Promise<DeploymentsPage> =>
        call(() => this.trpc.apps.deployments.query({ id: appId, ...(opts.limit !== undefined ? { limit: opts.limit } : {}), ...(opts.before ? { before: opts.before } : {}) })),
      /** Every deployment of the app, newest first, fetched a page at a time as you iterate. */
      all: (appId: string): AsyncGenerator<Deployment, void, undefined> => {
        const page = (before?: string) => this.apps.deployments.page(appId, { limit: 100, ...(before ? { before } : {}) });
        return (async function* () {
          let before: string | undefined;
          do {
            const p = await page(before);
            yield* p.deployments;
            before = p.nextCursor ?? undefined;
          } while (before);
        })();
      },
      logs: Object.assign(
        async (appId: string, deploymentId: string): Promise<DeploymentLogs> => {
          const r = await call(() => this.trpc.apps.deploymentLogs.query({ id: appId, deploymentId }));
          return { deployment: r.deployment, lines: r.lines };
        },
        { stream: (appId: string, deploymentId: string, opts?: StreamOptions) => streamDeploymentLogs(this.#stream, appId, deploymentId, opts) },
      ) as DeploymentLogsArea,
      /** Follows any deployment (one a webhook queued, say) to its end, like a deploy handle's wait(). */
      wait: (appId: string, deploymentId: string, opts?: WaitOptions): Promise<Deployment> =>
        createDeploymentHandle(
          { appId, deploymentId, domain: '', url: '', status: 'queued' },
          { stream: this.#stream, deploymentLogs: (a, d) => this.apps.deployments.logs(a, d) },
        ).wait(opts),
      /** Cancels a queued or running deployment; answers the deployment as it now is. */
      cancel: (appId: string, deploymentId: string): Promise<Deployment> =>
        call(() => this.trpc.apps.cancelDeployment.mutate({ id: appId, deploymentId })),
    },
    /**
     * CPU, memory, restarts and start time of each running replica of the current release, per service (none while
     * the app is stopped). The server reads the engine at most once every 2 s per app.
     */
    stats: (appId: string): Promise<AppStats> => call(() => this.trpc.stats.app.query({ id: appId })),
    /** Repo apps: replaces the webhook secret (the old one stops working at once); answers the new webhook block. */
    rotateWebhook: (appId: string): Promise<Webhook> => call(() => this.trpc.apps.rotateWebhook.mutate({ id: appId })),
  };

  readonly secrets = {
    /** Creates or replaces a secret; values are write-only (the answer lists key names). */
    set: (name: string, data: SecretData, scope: SecretScope = {}): Promise<Secret> =>
      call(() => this.trpc.secrets.put.mutate({ name, data, ...(scope.appId ? { appId: scope.appId } : {}) })),
    list: async (): Promise<Secret[]> => (await call(() => this.trpc.secrets.list.query())).secrets,
    /** Metadata and key names (never values). */
    get: (name: string, scope: SecretScope = {}): Promise<Secret> =>
      call(() => this.trpc.secrets.get.query({ name, ...(scope.appId ? { appId: scope.appId } : {}) })),
    delete: async (name: string, scope: SecretScope = {}): Promise<void> => {
      await call(() => this.trpc.secrets.delete.mutate({ name, ...(scope.appId ? { appId: scope.appId } : {}) }));
    },
  };

  /** Operators only: an ADMIN_EMAILS account that claimed operator rights with the host's operator token. */
  readonly admin = {
    /**
     * Claims operator rights for this (ADMIN_EMAILS) account with the operator token, the content of
     * `$DATA_DIR/operator-token` on the server. Until then every other admin call answers `forbidden`.
     */
    claim: (token: string): Promise<ClaimResult> => call(() => this.trpc.admin.claim.mutate({ token })),
    status: (): Promise<SealStatus> => call(() => this.trpc.admin.sealStatus.query()),
    /** Loads the master key (64 hex characters); with `previous` (the current key), rotates to `key`. */
    unseal: (key: string, opts: { previous?: string } = {}): Promise<UnsealResult> =>
      call(() => this.trpc.admin.unseal.mutate({ key, ...(opts.previous ? { previous: opts.previous } : {}) })),
    seal: (): Promise<SealStatus> => call(() => this.trpc.admin.seal.mutate()),
    /** The operators' own log (vault actions), newest first; pass `nextCursor` as `before` for the next page. */
    audit: (query: AuditQuery = {}): Promise<OperatorAuditPage> => call(() => this.trpc.admin.audit.query(auditQuery(query))),
    /** The machines apps run on (managers first), each with how many apps have a running replica there. */
    nodes: async (): Promise<RuntimeNode[]> => (await call(() => this.trpc.admin.nodes.query())).nodes,
  };
}

/** Only the fields given: an absent limit or cursor is left to the server. */
function auditQuery(q: AuditQuery): AuditQuery {
  return { ...(q.limit !== undefined ? { limit: q.limit } : {}), ...(q.before !== undefined ? { before: q.before } : {}) };
}

export function createClient(options: ClientOptions): CynchroClient {
  return new CynchroClient(options);
}
