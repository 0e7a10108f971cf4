import { randomBytes } from 'node:crypto';
import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase64urlNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors/app-error.js';
import { newId } from '../../lib/ids.js';
import type { AuthContext } from '../auth/auth.service.js';
import { OrgsRepo } from './orgs.repo.js';
import type { InvitationDto, MemberDto, OrgDto } from './orgs.schema.js';
import type { InvitationsTable } from './orgs.tables.js';
import type { Role } from './roles.js';

export const INVITATION_TTL_MS = 7 * 24 * 3600 * 1000;

const ROLE_CACHE_MAX = 10_000;

function hashToken(token: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

function toMember(m: { user_id: string; email: string; name: string | null; role: Role; created_at: string }): MemberDto {
  return { userId: m.user_id, email: m.email, name: m.name, role: m.role, joinedAt: m.created_at };
}

function toInvitation(i: InvitationsTable): InvitationDto {
  return { id: i.id, email: i.email, role: i.role, expiresAt: i.expires_at };
}

/**
 * The owner of orgs, memberships and invitations: the only writer of those tables, and the one who announces a
 * membership change (`membership` event), upon which sessions and API tokens of a removed member stop at once.
 * Role rules that depend on the target (owners' roles, the last owner) are checked here; the permission to act at
 * all is the procedure's (permissions.ts).
 */
export class OrgsService {
  readonly #repo: OrgsRepo;
  /** `${orgId} ${userId}` → role (null: not a member). Every write goes through this service, which evicts. */
  readonly #roles = new Map<string, Role | null>();

  constructor(private readonly deps: Pick<Deps, 'db' | 'clock' | 'events' | 'config'>) {
    this.#repo = new OrgsRepo(deps.db);
  }

  /** The user's role in the org, or null when they are not a member (read on every authenticated request). */
  async roleOf(userId: string, orgId: string): Promise<Role | null> {
    const key = `${orgId} ${userId}`;
    if (this.#roles.has(key)) return this.#roles.get(key)!;
    const role = await this.#repo.role(orgId, userId);
    if (this.#roles.size >= ROLE_CACHE_MAX) this.#roles.delete(this.#roles.keys().next().value!);
    this.#roles.set(key, role);
    return role;
  }

  /** The role in `orgId`, or 404 `org_not_found` for anyone not in it (whether it exists is nobody else's business). */
  async requireRole(userId: string, orgId: string): Promise<Role> {
    const role = await this.roleOf(userId, orgId);
    if (!role) throw new AppError('org_not_found', 'No such org');
    return role;
  }

  #changed(orgId: string, userId: string, role: Role | null): void {
    this.#roles.delete(`${orgId} ${userId}`);
    this.deps.events.emit('membership', { orgId, userId, role });
  }

  async list(auth: Pick<AuthContext, 'userId'>): Promise<{ orgs: OrgDto[] }> {
    const rows = await this.#repo.orgsOf(auth.userId);
    return { orgs: rows.map((r) => ({ id: r.id, name: r.name, role: r.role, personal: r.personal_user_id === auth.userId })) };
  }

  async create(auth: Pick<AuthContext, 'userId'>, name: string): Promise<{ org: OrgDto }> {
    const max = this.deps.config.maxOwnedOrgs;
    if ((await this.#repo.countOwnedTeamOrgs(auth.userId)) >= max) {
      throw new AppError('quota_exceeded', `You already own ${max} orgs (MAX_ORGS_PER_USER)`);
    }
    const org = { id: newId('org'), name, created_at: this.deps.clock.now().toISOString() };
    await this.#repo.createOrg(org, auth.userId);
    this.#changed(org.id, auth.userId, 'owner');
    return { org: { id: org.id, name, role: 'owner', personal: false } };
  }

  async rename(auth: AuthContext, name: string): Promise<{ org: OrgDto }> {
    const org = await this.#repo.org(auth.orgId);
    if (!org) throw new AppError('org_not_found', 'No such org');
    await this.#repo.rename(org.id, name);
    return { org: { id: org.id, name, role: auth.role, personal: org.personal_user_id === auth.userId } };
  }

  async orgName(orgId: string): Promise<string | null> {
    return (await this.#repo.org(orgId))?.name ?? null;
  }

  async members(auth: Pick<AuthContext, 'orgId'>): Promise<{ members: MemberDto[] }> {
    return { members: (await this.#repo.members(auth.orgId)).map(toMember) };
  }

  async member(orgId: string, userId: string): Promise<MemberDto | null> {
    const m = await this.#repo.member(orgId, userId);
    return m ? toMember(m) : null;
  }

  async #requireMember(orgId: string, userId: string): Promise<MemberDto> {
    const m = await this.member(orgId, userId);
    if (!m) throw new AppError('member_not_found', 'No such member in this org');
    return m;
  }

  /** Admins change admins, developers and viewers; only owners make or unmake owners; an org keeps one owner. */
  async setRole(auth: AuthContext, userId: string, role: Role): Promise<{ member: MemberDto }> {
    const target = await this.#requireMember(auth.orgId, userId);
    if ((target.role === 'owner' || role === 'owner') && auth.role !== 'owner') {
      throw new AppError('forbidden', 'Only owners make or change owners');
    }
    const r = await this.#repo.changeMember(auth.orgId, userId, role);
    if (r === 'gone') throw new AppError('member_not_found', 'No such member in this org');
    if (r === 'last_owner') throw new AppError('conflict', 'The last owner cannot be demoted: make another member owner first');
    this.#changed(auth.orgId, userId, role);
    return { member: { ...target, role } };
  }

  /** Anyone leaves; owners and admins remove others, owners only owners; the last owner and a personal org's own person stay. */
  async removeMember(auth: AuthContext, userId: string): Promise<void> {
    const target = await this.#requireMember(auth.orgId, userId);
    if (userId !== auth.userId) {
      if (auth.role !== 'owner' && auth.role !== 'admin') throw new AppError('forbidden', `Your role (${auth.role}) cannot remove members`);
      if (target.role === 'owner' && auth.role !== 'owner') throw new AppError('forbidden', 'Only owners remove owners');
    }
    const org = await this.#repo.org(auth.orgId);
    if (org?.personal_user_id === userId) throw new AppError('conflict', 'A personal org keeps the person it belongs to');
    const r = await this.#repo.changeMember(auth.orgId, userId, null);
    if (r === 'gone') throw new AppError('member_not_found', 'No such member in this org');
    if (r === 'last_owner') throw new AppError('conflict', 'The last owner cannot leave or be removed: make another member owner first');
    this.#changed(auth.orgId, userId, null);
  }

  async invite(auth: AuthContext, email: string, role: Role): Promise<{ invitation: InvitationDto; token: string }> {
    if (role === 'owner' && auth.role !== 'owner') throw new AppError('forbidden', 'Only owners invite owners');
    const existing = (await this.#repo.members(auth.orgId)).find((m) => m.email === email);
    if (existing) throw new AppError('conflict', `${email} is already a member (${existing.role})`);
    const now = this.deps.clock.now();
    const token = `cyninv_${encodeBase64urlNoPadding(randomBytes(32))}`;
    const inv: InvitationsTable = {
      id: newId('inv'),
      org_id: auth.orgId,
      email,
      role,
      token_hash: hashToken(token),
      invited_by: auth.userId,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + INVITATION_TTL_MS).toISOString(),
    };
    await this.#repo.putInvitation(inv);
    return { invitation: toInvitation(inv), token };
  }

  async invitations(auth: Pick<AuthContext, 'orgId'>): Promise<{ invitations: InvitationDto[] }> {
    return { invitations: (await this.#repo.pendingInvitations(auth.orgId, this.deps.clock.now().toISOString())).map(toInvitation) };
  }

  async invitation(orgId: string, id: string): Promise<InvitationDto | null> {
    const i = await this.#repo.invitation(orgId, id);
    return i ? toInvitation(i) : null;
  }

  async revokeInvitation(auth: Pick<AuthContext, 'orgId'>, id: string): Promise<void> {
    if (!(await this.#repo.deleteInvitation(auth.orgId, id))) throw new AppError('invitation_not_found', 'No such pending invitation');
  }

  /** The live invitation a token names, or 404 `invitation_not_found` (unknown, used, revoked or expired). */
  async pendingInvitation(token: string): Promise<InvitationsTable> {
    const inv = token.length <= 200 ? await this.#repo.invitationByHash(hashToken(token)) : undefined;
    if (!inv || inv.expires_at <= this.deps.clock.now().toISOString()) throw new AppError('invitation_not_found', 'No such invitation: it was used, revoked or has expired');
    return inv;
  }

  /** Only the invited address may accept, once; the invitation is not used up by anyone else's attempt. */
  async accept(who: { userId: string; email: string }, token: string): Promise<{ orgId: string; role: Role }> {
    const inv = await this.pendingInvitation(token);
    if (inv.email !== who.email.toLowerCase()) throw new AppError('forbidden', 'This invitation is for another email address');
    const role = await this.#repo.acceptInvitation(inv, who.userId, this.deps.clock.now().toISOString());
    if (!role) throw new AppError('invitation_not_found', 'No such invitation: it was used, revoked or has expired');
    this.#changed(inv.org_id, who.userId, role);
    return { orgId: inv.org_id, role };
  }

  pruneInvitations(now: Date): Promise<number> {
    return this.#repo.pruneInvitations(now.toISOString());
  }
}
