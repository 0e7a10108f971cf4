import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Apps, their domains, deployments (the worker's durable job table) and deployment logs. */
export const appsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('apps')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('domain', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('current_deployment_id', 'text')
      .addColumn('webhook_secret', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('apps_org_name', ['org_id', 'name'])
      .execute();
    // Domains are unique across all orgs: the primary key is the arbiter, even for racing deploys.
    await db.schema
      .createTable('domains')
      .addColumn('domain', 'text', (c) => c.primaryKey())
      .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
      .addColumn('service', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('domains_app').on('domains').column('app_id').execute();
    await db.schema
      .createTable('deployments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('commit_sha', 'text')
      .addColumn('error', 'text')
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('finished_at', 'text')
      .execute();
    await db.schema.createIndex('deployments_app_created').on('deployments').columns(['app_id', 'created_at']).execute();
    await db.schema.createIndex('deployments_status').on('deployments').column('status').execute();
    await db.schema
      .createTable('deployment_logs')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('stream', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('deployment_logs_deployment').on('deployment_logs').columns(['deployment_id', 'id']).execute();
  },
};
