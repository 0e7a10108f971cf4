import type { Db } from '../../db/open-database.js';
import type { Role } from './roles.js';
import type { InvitationsTable } from './orgs.tables.js';

/** Storage of orgs, memberships and invitations; only OrgsService uses it. */
export class OrgsRepo {
  constructor(private readonly db: Db) {}

  orgsOf(userId: string) {
    return this.db
      .selectFrom('org_members')
      .innerJoin('orgs', 'orgs.id', 'org_members.org_id')
      .select(['orgs.id', 'orgs.name', 'orgs.personal_user_id', 'org_members.role', 'org_members.created_at'])
      .where('org_members.user_id', '=', userId)
      .orderBy('org_members.created_at')
      .orderBy('orgs.id')
      .execute();
  }

  org(orgId: string) {
    return this.db.selectFrom('orgs').selectAll().where('id', '=', orgId).executeTakeFirst();
  }

  async countOwnedTeamOrgs(userId: string): Promise<number> {
    const r = await this.db
      .selectFrom('org_members')
      .innerJoin('orgs', 'orgs.id', 'org_members.org_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_members.user_id', '=', userId)
      .where('org_members.role', '=', 'owner')
      .where('orgs.personal_user_id', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async createOrg(org: { id: string; name: string; created_at: string }, ownerId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('orgs').values({ ...org, personal_user_id: null }).execute();
      await tx.insertInto('org_members').values({ org_id: org.id, user_id: ownerId, role: 'owner', created_at: org.created_at }).execute();
    });
  }

  async rename(orgId: string, name: string): Promise<void> {
    await this.db.updateTable('orgs').set({ name }).where('id', '=', orgId).execute();
  }

  async role(orgId: string, userId: string): Promise<Role | null> {
    const r = await this.db.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return r?.role ?? null;
  }

  members(orgId: string) {
    return this.db
      .selectFrom('org_members')
      .innerJoin('users', 'users.id', 'org_members.user_id')
      .select(['users.id as user_id', 'users.email', 'users.name', 'org_members.role', 'org_members.created_at'])
      .where('org_members.org_id', '=', orgId)
      .orderBy('org_members.created_at')
      .orderBy('users.id')
      .execute();
  }

  member(orgId: string, userId: string) {
    return this.db
      .selectFrom('org_members')
      .innerJoin('users', 'users.id', 'org_members.user_id')
      .select(['users.id as user_id', 'users.email', 'users.name', 'org_members.role', 'org_members.created_at'])
      .where('org_members.org_id', '=', orgId)
      .where('org_members.user_id', '=', userId)
      .executeTakeFirst();
  }

  /**
   * Changes a role, or removes the member (`role` null), in one transaction that keeps at least one owner: answers
   * 'last_owner' (and changes nothing) when the change would leave the org without one, 'gone' when the member is not
   * there, else the role it had.
   */
  async changeMember(orgId: string, userId: string, role: Role | null): Promise<Role | 'last_owner' | 'gone'> {
    return this.db.transaction().execute(async (tx) => {
      const cur = await tx.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
      if (!cur) return 'gone';
      if (cur.role === 'owner' && role !== 'owner') {
        const owners = await tx
          .selectFrom('org_members')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .where('role', '=', 'owner')
          .executeTakeFirstOrThrow();
        if (Number(owners.n) <= 1) return 'last_owner';
      }
      if (role === null) await tx.deleteFrom('org_members').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
      else await tx.updateTable('org_members').set({ role }).where('org_id', '=', orgId).where('user_id', '=', userId).execute();
      return cur.role;
    });
  }

  /** A new pending invitation; one for the same email before it is replaced (the old token stops working). */
  async putInvitation(inv: InvitationsTable): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('invitations').where('org_id', '=', inv.org_id).where('email', '=', inv.email).execute();
      await tx.insertInto('invitations').values(inv).execute();
    });
  }

  pendingInvitations(orgId: string, now: string) {
    return this.db.selectFrom('invitations').selectAll().where('org_id', '=', orgId).where('expires_at', '>', now).orderBy('created_at', 'desc').execute();
  }

  invitationByHash(hash: string) {
    return this.db.selectFrom('invitations').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  }

  invitation(orgId: string, id: string) {
    return this.db.selectFrom('invitations').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  }

  async deleteInvitation(orgId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('invitations').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  /**
   * Takes the invitation (it can be taken once: the delete decides between racing accepts) and adds the member;
   * someone already a member keeps their role. Answers the role they now have, or null when it was already taken.
   */
  async acceptInvitation(inv: InvitationsTable, userId: string, at: string): Promise<Role | null> {
    return this.db.transaction().execute(async (tx) => {
      const taken = await tx.deleteFrom('invitations').where('id', '=', inv.id).executeTakeFirst();
      if (Number(taken.numDeletedRows) !== 1) return null;
      const cur = await tx.selectFrom('org_members').select('role').where('org_id', '=', inv.org_id).where('user_id', '=', userId).executeTakeFirst();
      if (cur) return cur.role;
      await tx.insertInto('org_members').values({ org_id: inv.org_id, user_id: userId, role: inv.role, created_at: at }).execute();
      return inv.role;
    });
  }

  async pruneInvitations(now: string): Promise<number> {
    const r = await this.db.deleteFrom('invitations').where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
