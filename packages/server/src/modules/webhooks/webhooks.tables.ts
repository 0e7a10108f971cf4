// Storage types of the webhooks module (added to db/schema.ts's Database).

/**
 * One accepted GitHub delivery that queued (or joined) a deployment, keyed by the app and GitHub's
 * `X-GitHub-Delivery` id: a redelivery (same id) answers with the same deployment instead of queueing another.
 */
export interface WebhookDeliveriesTable {
  app_id: string;
  delivery_id: string;
  event: string;
  deployment_id: string;
  created_at: string;
}
