import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Release history: what a rollback re-deploys, and the exact images each deployment ran. */
export const releasesMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('deployments').addColumn('rollback_of', 'text').execute();
    await db.schema.alterTable('deployments').addColumn('image_ids', 'text').execute();
  },
};
