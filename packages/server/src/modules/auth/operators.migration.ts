import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Accounts that proved control of the host with the operator token (POST /admin/claim). */
export const operatorsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('operators')
      .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('claimed_at', 'text', (c) => c.notNull())
      .execute();
  },
};
