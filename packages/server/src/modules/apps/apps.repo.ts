import type { Db } from '../../db/open-database.js';
import type { AppsTable } from './apps.tables.js';

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
   * Creates or updates the app and its domains inside the caller's transaction (the domains primary key refuses a
   * domain another app grabbed meanwhile). The deployments module queues the deployment in the same transaction.
   */
  async upsertIn(tx: Db, args: { app: AppsTable; isNew: boolean; domains: { domain: string; service: string }[] }): Promise<void> {
    if (args.isNew) await tx.insertInto('apps').values(args.app).execute();
    else
      await tx
        .updateTable('apps')
        .set({ kind: args.app.kind, spec: args.app.spec, domain: args.app.domain, webhook_secret: args.app.webhook_secret, updated_at: args.app.updated_at })
        .where('id', '=', args.app.id)
        .execute();
    await tx.deleteFrom('domains').where('app_id', '=', args.app.id).execute();
    if (args.domains.length) await tx.insertInto('domains').values(args.domains.map((d) => ({ ...d, app_id: args.app.id }))).execute();
  }

  /** The app as stored right now, read inside the caller's transaction. */
  findIn(tx: Db, appId: string) {
    return tx.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirst();
  }

  async ownedDomains(appId: string): Promise<Set<string>> {
    return new Set((await this.domainsOf(appId)).map((d) => d.domain));
  }

  setWebhookSecret(appId: string, secret: string, at: string) {
    return this.db.updateTable('apps').set({ webhook_secret: secret, updated_at: at }).where('id', '=', appId).execute();
  }

  deleteApp(appId: string) {
    return this.db.deleteFrom('apps').where('id', '=', appId).execute();
  }
}
