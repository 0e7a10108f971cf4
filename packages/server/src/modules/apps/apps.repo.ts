import type { Db } from '../../db/open-database.js';
import type { AppsTable, DeploymentsTable } from './apps.tables.js';

export interface QueuedDeployment {
  deploymentId: string;
  /** `queued`: a new deployment; `coalesced`: joined one already queued/building; `duplicate`: a request seen before. */
  outcome: 'queued' | 'coalesced' | 'duplicate';
}

/** Lets a caller of queueForApp reuse a deployment instead of queueing one, atomically with the queueing. */
export interface QueueGuard {
  /** Runs first, in the transaction: an answer means "do not queue a new deployment". */
  reuse(tx: Db, app: AppsTable): Promise<QueuedDeployment | undefined>;
  /** Runs last, in the same transaction, with the deployment this request ended up with (not for duplicates). */
  record(tx: Db, deploymentId: string, outcome: QueuedDeployment['outcome']): Promise<void>;
}

/** The one queueing rule: a newer deployment of an app cancels the ones still queued. Call inside a transaction. */
export async function queueIn(tx: Db, deployment: DeploymentsTable): Promise<void> {
  await tx
    .updateTable('deployments')
    .set({ status: 'canceled', error: 'superseded by a newer deployment', finished_at: deployment.created_at })
    .where('app_id', '=', deployment.app_id)
    .where('status', '=', 'queued')
    .execute();
  await tx.insertInto('deployments').values(deployment).execute();
}

export const FINAL_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
export const ACTIVE_STATUSES = ['building', 'deploying'] as const;

export class AppsRepo {
  constructor(private readonly db: Db) {}

  /** Another org's app is indistinguishable from a missing one: every lookup is scoped by org. */
  findForOrg(orgId: string, appId: string) {
    return this.db.selectFrom('apps').selectAll().where('id', '=', appId).where('org_id', '=', orgId).executeTakeFirst();
  }

  findById(appId: string) {
    return this.db.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirst();
  }

  findByName(orgId: string, name: string) {
    return this.db.selectFrom('apps').selectAll().where('org_id', '=', orgId).where('name', '=', name).executeTakeFirst();
  }

  listForOrg(orgId: string) {
    return this.db.selectFrom('apps').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
  }

  async orgIds(): Promise<string[]> {
    return (await this.db.selectFrom('orgs').select('id').execute()).map((o) => o.id);
  }

  listAll() {
    return this.db.selectFrom('apps').selectAll().execute();
  }

  domainsOf(appId: string) {
    return this.db.selectFrom('domains').selectAll().where('app_id', '=', appId).execute();
  }

  allDomains() {
    return this.db.selectFrom('domains').selectAll().execute();
  }

  holdersOf(domains: string[]) {
    if (!domains.length) return Promise.resolve([]);
    return this.db.selectFrom('domains').selectAll().where('domain', 'in', domains).execute();
  }

  /**
   * Creates or updates the app, its domains, and queues a deployment, cancelling any still-queued older one,
   * all in one transaction (the domains primary key refuses a domain another app grabbed meanwhile).
   */
  async upsertAndQueue(args: {
    app: AppsTable;
    isNew: boolean;
    domains: { domain: string; service: string }[];
    deployment: DeploymentsTable;
  }): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      if (args.isNew) await tx.insertInto('apps').values(args.app).execute();
      else
        await tx
          .updateTable('apps')
          .set({ kind: args.app.kind, spec: args.app.spec, domain: args.app.domain, webhook_secret: args.app.webhook_secret, updated_at: args.app.updated_at })
          .where('id', '=', args.app.id)
          .execute();
      await tx.deleteFrom('domains').where('app_id', '=', args.app.id).execute();
      if (args.domains.length)
        await tx.insertInto('domains').values(args.domains.map((d) => ({ ...d, app_id: args.app.id }))).execute();
      await queueIn(tx, args.deployment);
    });
  }

  /**
   * Queues a deployment of the app as it is stored right now (the row is read inside the transaction, so the
   * snapshot is the current spec), under the same rule as upsertAndQueue. A guard, run in the same transaction,
   * may answer with an existing deployment instead (redelivery, coalescing) and records what happened.
   * Null when the app no longer exists.
   */
  async queueForApp(appId: string, makeRow: (app: AppsTable) => DeploymentsTable, guard?: QueueGuard): Promise<QueuedDeployment | null> {
    return this.db.transaction().execute(async (tx) => {
      const app = await tx.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirst();
      if (!app) return null;
      const reused = await guard?.reuse(tx, app);
      if (reused) {
        if (reused.outcome !== 'duplicate') await guard!.record(tx, reused.deploymentId, reused.outcome);
        return reused;
      }
      const row = makeRow(app);
      await queueIn(tx, row);
      await guard?.record(tx, row.id, 'queued');
      return { deploymentId: row.id, outcome: 'queued' };
    });
  }

  insertDeployment(d: DeploymentsTable) {
    return this.db.insertInto('deployments').values(d).execute();
  }

  setStatus(appId: string, status: AppsTable['status'], at: string) {
    return this.db.updateTable('apps').set({ status, updated_at: at }).where('id', '=', appId).execute();
  }

  setCurrent(appId: string, deploymentId: string, at: string) {
    return this.db
      .updateTable('apps')
      .set({ status: 'running', current_deployment_id: deploymentId, updated_at: at })
      .where('id', '=', appId)
      .execute();
  }

  setWebhookSecret(appId: string, secret: string, at: string) {
    return this.db.updateTable('apps').set({ webhook_secret: secret, updated_at: at }).where('id', '=', appId).execute();
  }

  deleteApp(appId: string) {
    return this.db.deleteFrom('apps').where('id', '=', appId).execute();
  }

  recentDeployments(appId: string, limit = 20) {
    return this.db.selectFrom('deployments').selectAll().where('app_id', '=', appId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  findDeployment(appId: string, deploymentId: string) {
    return this.db.selectFrom('deployments').selectAll().where('id', '=', deploymentId).where('app_id', '=', appId).executeTakeFirst();
  }

  deploymentById(id: string) {
    return this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  deploymentLogs(deploymentId: string, afterId = 0, limit = 5000) {
    return this.db
      .selectFrom('deployment_logs')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async appendLog(deploymentId: string, at: string, stream: string, text: string): Promise<number> {
    const r = await this.db.insertInto('deployment_logs').values({ deployment_id: deploymentId, at, stream, text }).executeTakeFirst();
    return Number(r.insertId);
  }

  /** Conditional: a deployment in a final state never changes again, whoever races. */
  async transition(id: string, to: DeploymentsTable['status'], fields: Partial<Pick<DeploymentsTable, 'error' | 'started_at' | 'finished_at' | 'commit_sha'>> = {}, from?: readonly DeploymentsTable['status'][]): Promise<boolean> {
    let q = this.db
      .updateTable('deployments')
      .set({ status: to, ...fields })
      .where('id', '=', id)
      .where('status', 'not in', FINAL_STATUSES);
    if (from) q = q.where('status', 'in', from);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  requestCancel(id: string) {
    return this.db.updateTable('deployments').set({ cancel_requested: 1 }).where('id', '=', id).where('status', 'not in', FINAL_STATUSES).executeTakeFirst();
  }

  /** Oldest queued deployments whose app has nothing active: the worker's next jobs. */
  nextRunnable(limit: number) {
    return this.db
      .selectFrom('deployments as d')
      .selectAll('d')
      .where('d.status', '=', 'queued')
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('deployments as a').select('a.id').whereRef('a.app_id', '=', 'd.app_id').where('a.status', 'in', ACTIVE_STATUSES))),
      )
      .orderBy('d.created_at')
      .orderBy('d.id')
      .limit(limit)
      .execute();
  }

  activeDeployments() {
    return this.db.selectFrom('deployments').selectAll().where('status', 'in', ACTIVE_STATUSES).execute();
  }

  activeOrQueuedFor(appId: string) {
    return this.db.selectFrom('deployments').selectAll().where('app_id', '=', appId).where('status', 'not in', FINAL_STATUSES).execute();
  }
}
