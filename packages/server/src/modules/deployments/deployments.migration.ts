import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Desired state and runtime health on apps (the app status is derived from them), and the images each deployment ran. */
export const deploymentsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('apps').addColumn('desired_state', 'text', (c) => c.notNull().defaultTo('running')).execute();
    await db.schema.alterTable('apps').addColumn('health_failed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('apps').addColumn('health_reason', 'text').execute();
    await db.schema.alterTable('apps').addColumn('status_reason', 'text').execute();
    await sql`update apps set desired_state = 'stopped' where status = 'stopped'`.execute(db);
    await db.schema.alterTable('deployments').addColumn('images', 'text').execute();
    await sql`update deployments set trigger = 'api' where trigger = 'redeploy'`.execute(db);
  },
};
