import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Delivery ids already acted on, per app (redelivery dedupe); they go with their app. */
export const webhooksMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
      .addColumn('delivery_id', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('webhook_deliveries_pk', ['app_id', 'delivery_id'])
      .execute();
    await db.schema.createIndex('webhook_deliveries_deployment').on('webhook_deliveries').column('deployment_id').execute();
  },
};
