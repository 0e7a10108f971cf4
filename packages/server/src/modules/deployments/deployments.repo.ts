// Storage of the deployments module: the `deployments` job table, deployment logs, and the release-state columns
// of `apps` (current deployment, desired state, runtime health, derived status). Only DeploymentsService calls it.
import type { Db } from '../../db/open-database.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import { ACTIVE_STATUSES, FINAL_STATUSES, NON_FINAL_STATUSES, type DeploymentStatus } from './deployment-status.js';

export type TransitionFields = Partial<Pick<DeploymentsTable, 'error' | 'started_at' | 'finished_at' | 'commit_sha' | 'images' | 'image_ids'>>;

export class DeploymentsRepo {
  constructor(private readonly db: Db) {}

  /**
   * The one queueing rule, inside the caller's transaction: the new job cancels the app's jobs still `queued`
   * (a `stop` also asks the running one to cancel). Returns the ids it superseded, for their events.
   */
  async queueIn(tx: Db, row: DeploymentsTable): Promise<{ superseded: DeploymentsTable[]; cancelRequested: string[] }> {
    const queued = await tx.selectFrom('deployments').select('id').where('app_id', '=', row.app_id).where('status', '=', 'queued').execute();
    const superseded = queued.length
      ? await tx
          .updateTable('deployments')
          .set({ status: 'canceled', error: `superseded by ${row.trigger === 'stop' ? 'a stop' : row.trigger === 'restart' ? 'a restart' : 'a newer deployment'}`, finished_at: row.created_at })
          .where('id', 'in', queued.map((q) => q.id))
          .where('status', '=', 'queued')
          .returningAll()
          .execute()
      : [];
    let cancelRequested: string[] = [];
    if (row.trigger === 'stop') {
      const active = await tx.selectFrom('deployments').select('id').where('app_id', '=', row.app_id).where('status', 'in', ACTIVE_STATUSES).execute();
      cancelRequested = active.map((a) => a.id);
      if (cancelRequested.length) await tx.updateTable('deployments').set({ cancel_requested: 1 }).where('id', 'in', cancelRequested).execute();
    }
    await tx.insertInto('deployments').values(row).execute();
    return { superseded, cancelRequested };
  }

  /** Conditional: a deployment in a final state never changes again, whoever races. The row as written, if it moved. */
  async transition(id: string, to: DeploymentStatus, fields: TransitionFields = {}, from?: readonly DeploymentStatus[]): Promise<DeploymentsTable | undefined> {
    let q = this.db.updateTable('deployments').set({ status: to, ...fields }).where('id', '=', id).where('status', 'not in', FINAL_STATUSES);
    if (from) q = q.where('status', 'in', from);
    return q.returningAll().executeTakeFirst();
  }

  async setFields(id: string, fields: TransitionFields): Promise<void> {
    await this.db.updateTable('deployments').set(fields).where('id', '=', id).where('status', 'not in', FINAL_STATUSES).execute();
  }

  async requestCancel(id: string): Promise<boolean> {
    const r = await this.db.updateTable('deployments').set({ cancel_requested: 1 }).where('id', '=', id).where('status', 'not in', FINAL_STATUSES).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  byId(id: string) {
    return this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  forApp(appId: string, deploymentId: string) {
    return this.db.selectFrom('deployments').selectAll().where('id', '=', deploymentId).where('app_id', '=', appId).executeTakeFirst();
  }

  recent(appId: string, limit = 20) {
    return this.db.selectFrom('deployments').selectAll().where('app_id', '=', appId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  /** Newest first, `limit` rows strictly older than the cursor position (created_at, id). */
  page(appId: string, limit: number, before?: { createdAt: string; id: string }) {
    let q = this.db.selectFrom('deployments').selectAll().where('app_id', '=', appId);
    if (before) q = q.where((eb) => eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]));
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  /** The newest succeeded releases of an app (never stops): rollback candidates and the images to keep. */
  succeeded(appId: string, limit: number) {
    return this.db
      .selectFrom('deployments')
      .selectAll()
      .where('app_id', '=', appId)
      .where('status', '=', 'succeeded')
      .where('trigger', '!=', 'stop')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  /** Oldest queued jobs whose app has nothing active: the worker's next candidates. */
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

  active() {
    return this.db.selectFrom('deployments').selectAll().where('status', 'in', ACTIVE_STATUSES).execute();
  }

  pendingFor(appId: string) {
    return this.db.selectFrom('deployments').selectAll().where('app_id', '=', appId).where('status', 'in', NON_FINAL_STATUSES).execute();
  }

  /** Jobs not final right now, by status (the metrics' queue depth). */
  async pendingCounts(): Promise<Partial<Record<(typeof NON_FINAL_STATUSES)[number], number>>> {
    const rows = await this.db
      .selectFrom('deployments')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .where('status', 'in', NON_FINAL_STATUSES)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  anyPending() {
    return this.db.selectFrom('deployments').select('id').where('status', 'in', NON_FINAL_STATUSES).limit(1).executeTakeFirst();
  }

  newestFinal(appId: string) {
    return this.db
      .selectFrom('deployments')
      .select(['status', 'error'])
      .where('app_id', '=', appId)
      .where('status', 'in', FINAL_STATUSES)
      .where('trigger', '!=', 'stop')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  logs(deploymentId: string, afterId = 0, limit = 5000) {
    return this.db.selectFrom('deployment_logs').selectAll().where('deployment_id', '=', deploymentId).where('id', '>', afterId).orderBy('id').limit(limit).execute();
  }

  async appendLog(deploymentId: string, at: string, stream: string, text: string): Promise<number> {
    const r = await this.db.insertInto('deployment_logs').values({ deployment_id: deploymentId, at, stream, text }).executeTakeFirst();
    return Number(r.insertId);
  }

  app(appId: string) {
    return this.db.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirst();
  }

  allApps() {
    return this.db.selectFrom('apps').selectAll().execute();
  }

  async orgIds(): Promise<string[]> {
    return (await this.db.selectFrom('orgs').select('id').execute()).map((o) => o.id);
  }

  async updateApp(appId: string, fields: Partial<Pick<AppsTable, 'status' | 'status_reason' | 'desired_state' | 'health_failed' | 'health_reason' | 'current_deployment_id' | 'updated_at'>>): Promise<void> {
    await this.db.updateTable('apps').set(fields).where('id', '=', appId).execute();
  }
}
