// How the audit middleware names what a call acted on. A procedure's meta says which kind of target it has; the
// target is looked up before the call (a deleted app or a revoked token still has its name in the record) and
// completed from the answer (ids of things the call created).
import type { Services } from '../../services.js';
import type { AuthContext } from '../auth/auth.service.js';

export type TargetKind = 'app' | 'deployment' | 'secret' | 'token' | 'member' | 'invitation' | 'org' | 'account' | 'vault';

export interface AuditMetaSpec {
  /** `deploy`, `app.restart`, … (or derived from the input, as unseal vs rotate). */
  action: string | ((input: Record<string, unknown>) => string);
  target: TargetKind;
  /** `admin`: the operators' log (GET /admin/audit); default the org's. */
  log?: 'org' | 'admin';
  /** `denied`: the owning service records successes and failures itself (the vault); only refusals are recorded here. */
  outcomes?: 'denied';
  /** The owning module records every outcome with details only it knows (operator claims, password changes). */
  recordedBy?: 'service';
}

/** `false`: nothing to record (public procedures, which have no actor). */
export type AuditMeta = AuditMetaSpec | false;

export interface DescribedTarget {
  target: { type?: string; id?: string | null; name?: string | null };
  /** The org the record belongs to when it is not the one the caller acts in (an accepted invitation's org). */
  orgId?: string;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export async function describeTarget(
  kind: TargetKind,
  c: { input: Record<string, unknown>; auth: AuthContext; services: Services; appField?: 'id' | 'appId' | 'name' | undefined },
): Promise<DescribedTarget | null> {
  const { input, auth, services } = c;
  switch (kind) {
    case 'app':
    case 'deployment': {
      let appId = c.appField && c.appField !== 'name' ? str(input[c.appField]) : null;
      let name: string | null = null;
      if (c.appField === 'name') {
        name = str(input.name);
        appId = name ? await services.apps.idByName(auth.orgId, name) : null;
      } else if (appId) {
        name = await services.apps.nameOf(auth.orgId, appId);
      }
      if (kind === 'deployment') return { target: { id: str(input.deploymentId), name } };
      return { target: { id: appId, name } };
    }
    case 'secret': {
      const name = str(input.name);
      const appId = str(input.appId);
      return { target: { id: appId ? `${appId}/${name}` : name, name } };
    }
    case 'token': {
      const id = str(input.id);
      const t = id ? await services.tokens.find(auth.orgId, id) : null;
      return { target: { id, name: t?.name ?? str(input.name) } };
    }
    case 'member': {
      const userId = str(input.userId);
      const m = userId ? await services.orgs.member(auth.orgId, userId) : null;
      return { target: { id: userId, name: m?.email ?? null } };
    }
    case 'invitation': {
      const id = str(input.id);
      if (id) return { target: { id, name: (await services.orgs.invitation(auth.orgId, id))?.email ?? null } };
      const token = str(input.token);
      if (token) {
        // Accepting: the record belongs to the org being joined.
        const inv = await services.orgs.pendingInvitation(token);
        return { target: { type: 'org', id: inv.org_id, name: await services.orgs.orgName(inv.org_id) }, orgId: inv.org_id };
      }
      return { target: { id: null, name: str(input.email) } };
    }
    case 'org': {
      const orgId = str(input.orgId);
      if (!orgId) return { target: { id: null, name: str(input.name) } };
      // Only a member's call goes into that org's trail: anyone else's (a failed switch) stays in their own.
      if (!(await services.orgs.roleOf(auth.userId, orgId))) return { target: { id: orgId, name: null } };
      return { target: { id: orgId, name: await services.orgs.orgName(orgId) }, orgId };
    }
    case 'account':
      return { target: { id: auth.userId, name: auth.email } };
    case 'vault':
      return { target: { id: null, name: null } };
  }
}

/** Ids the answer carries (what a call created); `orgId` for a new org. */
export function targetFromResult(kind: TargetKind, data: unknown): (DescribedTarget['target'] & { orgId?: string }) | undefined {
  const d = (data ?? {}) as Record<string, any>;
  switch (kind) {
    case 'app':
      return typeof d.appId === 'string' ? { id: d.appId } : undefined;
    case 'token':
      return d.token ? { id: d.token.id, name: d.token.name } : undefined;
    case 'invitation':
      return d.invitation ? { id: d.invitation.id, name: d.invitation.email } : undefined;
    case 'org':
      return d.org ? { id: d.org.id, name: d.org.name, orgId: d.org.id } : undefined;
    default:
      return undefined;
  }
}
