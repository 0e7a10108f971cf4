import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Team orgs, four roles, invitations, API tokens and a richer audit log. */
export const teamsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('orgs').addColumn('personal_user_id', 'text').execute();
    // Until now every org was the personal org of its one owner.
    await sql`update orgs set personal_user_id = (select m.user_id from org_members m where m.org_id = orgs.id and m.role = 'owner' order by m.created_at limit 1)`.execute(db);
    await sql`update org_members set role = 'developer' where role = 'member'`.execute(db);
    await db.schema.createIndex('org_members_user').on('org_members').column('user_id').execute();

    await db.schema
      .createTable('invitations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('invited_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('invitations_org_email').on('invitations').columns(['org_id', 'email']).unique().execute();

    await db.schema
      .createTable('api_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('app_id', 'text')
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema.createIndex('api_tokens_org_user').on('api_tokens').columns(['org_id', 'user_id']).execute();

    for (const col of ['email', 'token_id', 'target_type', 'target_id', 'target_name', 'ip']) {
      await db.schema.alterTable('audit_log').addColumn(col, 'text').execute();
    }
    await db.schema.alterTable('audit_log').addColumn('log', 'text', (c) => c.notNull().defaultTo('admin')).execute();
    // Earlier org events (secrets, webhook rotations) belong to their org's trail; the rest is operators' and
    // account security.
    await sql`update audit_log set log = 'org' where action like 'secrets.%' or action like 'app.%'`.execute(db);
    await db.schema.createIndex('audit_log_org').on('audit_log').columns(['log', 'org_id', 'id']).execute();
  },
};
