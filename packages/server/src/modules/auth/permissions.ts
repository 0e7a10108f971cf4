// The one permission table. Every procedure names one of these permissions in its meta (`permission`), and one
// middleware (trpc.ts) enforces it for sessions and API tokens alike; the WebSocket log streams ask the same
// function. A test walks the router and fails when a procedure declares none.
import { AppError } from '../../errors/app-error.js';
import type { Role } from '../orgs/roles.js';

export const SCOPES = ['read', 'deploy', 'secrets', 'manage'] as const;
export type Scope = (typeof SCOPES)[number];

interface Rule {
  /** Roles (in the org acted in) that hold it; null when the org role does not matter. */
  roles: readonly Role[] | null;
  /** The scope an API token needs for it; null: API tokens are refused. */
  scope: Scope | null;
  /** An API token scoped to one app is refused (the permission reaches the whole org). */
  orgWide?: boolean;
  /** What a refusal says. */
  what: string;
}

const ALL: readonly Role[] = ['owner', 'admin', 'developer', 'viewer'];
const WRITERS: readonly Role[] = ['owner', 'admin', 'developer'];
const ADMINS: readonly Role[] = ['owner', 'admin'];

export const PERMISSIONS = {
  /** No credential needed (register, login, refresh). */
  public: { roles: null, scope: null, what: 'public' },
  /** A signed-in person acting for themself: their account, their tokens, their orgs and invitations. */
  account: { roles: null, scope: null, what: 'manage your account, tokens and orgs' },
  /** Operators (ADMIN_EMAILS accounts that claimed the host's operator token). */
  operator: { roles: null, scope: null, what: 'operate the server' },
  /** Apps, deployments, logs, stats, secret names. */
  read: { roles: ALL, scope: 'read', what: 'read' },
  /** Deploy, restart, stop, cancel, rollback. */
  deploy: { roles: WRITERS, scope: 'deploy', what: 'deploy' },
  /** Set and delete secrets. */
  secrets: { roles: WRITERS, scope: 'secrets', what: 'change secrets' },
  /** Delete apps, rotate webhooks. */
  manage: { roles: ADMINS, scope: 'manage', what: 'delete apps or rotate webhooks' },
  /** The member list of an org. */
  'members.read': { roles: ALL, scope: null, what: 'list members' },
  /** Invitations and member roles (not owners'; the service checks the owner rules). */
  'members.manage': { roles: ADMINS, scope: null, what: 'invite members or change their roles' },
  /** The org's audit log. */
  audit: { roles: ADMINS, scope: 'read', orgWide: true, what: 'read the audit log' },
  /** Rename the org (owners are also the only ones who change or remove owners: the service checks). */
  'org.owner': { roles: ['owner'], scope: null, what: 'change the org' },
} as const satisfies Record<string, Rule>;

export type Permission = keyof typeof PERMISSIONS;

/** Who is calling, as far as permissions go. */
export interface Grant {
  role: Role;
  /** API tokens only: their scopes and app. */
  tokenId: string | null;
  scopes: readonly Scope[] | null;
  appId: string | null;
}

/**
 * Throws 403 `forbidden` unless `who` holds `permission`. Role checks apply to sessions and tokens alike (a token
 * acts with its creator's current role); tokens also need the scope, and app-scoped tokens only reach what one app
 * may (the caller checks the app itself with `assertAppInScope`).
 */
export function authorize(who: Grant, permission: Permission): void {
  const rule: Rule = PERMISSIONS[permission];
  if (who.tokenId !== null) {
    if (rule.scope === null) throw new AppError('forbidden', `API tokens cannot ${rule.what}; sign in as a user`);
    if (!who.scopes?.includes(rule.scope)) throw new AppError('forbidden', `This API token lacks the "${rule.scope}" scope`);
    if (rule.orgWide && who.appId !== null) throw new AppError('forbidden', `An API token scoped to one app cannot ${rule.what}`);
  }
  if (rule.roles !== null && !rule.roles.includes(who.role)) {
    throw new AppError('forbidden', `Your role (${who.role}) cannot ${rule.what}`);
  }
}

/** Whether `who` holds `permission` (for answers that show more to some callers than to others). */
export function holds(who: Grant, permission: Permission): boolean {
  try {
    authorize(who, permission);
    return true;
  } catch {
    return false;
  }
}

/** An app-scoped API token reaches its own app only; `appId` null means "the whole org" (an org-wide secret, a new app). */
export function assertAppInScope(who: Pick<Grant, 'appId'>, appId: string | null, what = 'that'): void {
  if (who.appId !== null && who.appId !== appId) {
    throw new AppError('forbidden', appId === null ? `An API token scoped to one app cannot do ${what}` : 'This API token is scoped to another app');
  }
}

/** The scopes a role may put on a token: nothing beyond what the role itself may do. */
export function scopesAllowed(role: Role): Scope[] {
  return SCOPES.filter((s) => Object.values(PERMISSIONS as Record<string, Rule>).some((r) => r.scope === s && (r.roles === null || r.roles.includes(role))));
}
