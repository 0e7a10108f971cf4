// The one owner of deployment state and of an app's release state. Every deployment transition (queue, supersede,
// claim, each step, cancel, final) and every change of an app's current deployment, desired state, runtime health
// and derived status goes through here, as a conditional update, and emits its event. Others read or ask.
import type { Db } from '../../db/open-database.js';
import type { Deps } from '../../deps.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import { deriveAppStatus, isFinal, type DeploymentStatus, type Trigger } from './deployment-status.js';
import { DeploymentsRepo, type TransitionFields } from './deployments.repo.js';

type OwnerDeps = Pick<Deps, 'db' | 'clock' | 'events' | 'log'>;

/** A stored log line is cut here (a tenant's build can print anything), with a marker saying how much went. */
export const MAX_LOG_LINE_CHARS = 8 * 1024;
/** Lines of tenant output (build, pull) kept per deployment; beyond, they are counted and one line says how many. */
export const MAX_TENANT_LINES = 10_000;
const TENANT_STREAMS = new Set(['build', 'pull']);

export function capLine(text: string): string {
  return text.length <= MAX_LOG_LINE_CHARS ? text : `${text.slice(0, MAX_LOG_LINE_CHARS)}… [${text.length - MAX_LOG_LINE_CHARS} characters cut]`;
}

export class DeploymentsService {
  readonly repo: DeploymentsRepo;
  /** Per running deployment: tenant lines stored and dropped (bounded by the jobs running). */
  private readonly tenantLines = new Map<string, { stored: number; dropped: number }>();

  constructor(private readonly deps: OwnerDeps) {
    this.repo = new DeploymentsRepo(deps.db);
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** A job row for the app, snapshotting `spec` (what it rolls out is fixed at queue time). */
  newRow(
    app: Pick<AppsTable, 'id' | 'org_id' | 'spec'>,
    id: string,
    trigger: Trigger,
    opts: { commitSha?: string | null; images?: string | null; imageIds?: string | null; spec?: string; rollbackOf?: string } = {},
  ): DeploymentsTable {
    return {
      id,
      app_id: app.id,
      org_id: app.org_id,
      status: 'queued',
      spec: opts.spec ?? app.spec,
      trigger,
      commit_sha: opts.commitSha ?? null,
      images: opts.images ?? null,
      image_ids: opts.imageIds ?? null,
      rollback_of: opts.rollbackOf ?? null,
      error: null,
      cancel_requested: 0,
      created_at: this.now(),
      started_at: null,
      finished_at: null,
    };
  }

  /**
   * Runs `work` in one transaction; each `queue(row)` inside it applies the queueing rule. After the commit, every
   * superseded job's `canceled` and every new job's `queued` is announced (the worker listens), and the apps'
   * statuses are derived again.
   */
  async enqueue<T>(work: (tx: Db, queue: (row: DeploymentsTable) => Promise<void>) => Promise<T>): Promise<T> {
    const queued: DeploymentsTable[] = [];
    const superseded: DeploymentsTable[] = [];
    const cancelRequested: { id: string; appId: string }[] = [];
    const result = await this.deps.db.transaction().execute((tx) =>
      work(tx, async (row) => {
        const r = await this.repo.queueIn(tx, row);
        queued.push(row);
        superseded.push(...r.superseded);
        cancelRequested.push(...r.cancelRequested.map((id) => ({ id, appId: row.app_id })));
      }),
    );
    for (const s of superseded) this.emitStatus(s);
    for (const c of cancelRequested) this.deps.events.emit('deployment-cancel', { deploymentId: c.id, appId: c.appId });
    for (const row of queued) this.emitStatus(row);
    for (const appId of new Set(queued.map((r) => r.app_id))) await this.refreshApp(appId);
    return result;
  }

  /** The worker takes a queued job: `building` when it has something to build, else `deploying`. */
  async claim(d: DeploymentsTable, first: 'building' | 'deploying'): Promise<boolean> {
    const row = await this.repo.transition(d.id, first, { started_at: this.now() }, ['queued']);
    if (!row) return false;
    this.emitStatus(row);
    return true;
  }

  async advance(d: Pick<DeploymentsTable, 'id' | 'app_id'>, to: 'deploying', fields: TransitionFields = {}): Promise<void> {
    const row = await this.repo.transition(d.id, to, fields, ['building', 'deploying']);
    if (row) this.emitStatus(row);
  }

  /** Facts learnt on the way (the commit built, the images run); never moves the status. */
  async record(id: string, fields: Pick<TransitionFields, 'commit_sha' | 'images' | 'image_ids'>): Promise<void> {
    await this.repo.setFields(id, fields);
  }

  async finish(d: Pick<DeploymentsTable, 'id' | 'app_id'>, status: Extract<DeploymentStatus, 'succeeded' | 'failed' | 'canceled'>, error: string | null = null): Promise<boolean> {
    const count = this.tenantLines.get(d.id);
    this.tenantLines.delete(d.id);
    if (count?.dropped) await this.append(d.id, 'system', `… ${count.dropped} lines dropped (a deployment keeps at most ${MAX_TENANT_LINES} lines of build and pull output)`);
    const row = await this.repo.transition(d.id, status, { error, finished_at: this.now() });
    if (row) this.emitStatus(row);
    await this.refreshApp(d.app_id);
    return !!row;
  }

  /** Appends to the deployment's own log and tells live followers. */
  async log(deploymentId: string, stream: string, text: string): Promise<void> {
    if (TENANT_STREAMS.has(stream)) {
      const count = this.tenantLines.get(deploymentId) ?? { stored: 0, dropped: 0 };
      this.tenantLines.set(deploymentId, count);
      if (count.stored >= MAX_TENANT_LINES) {
        count.dropped++;
        return;
      }
      count.stored++;
    }
    await this.append(deploymentId, stream, capLine(text));
  }

  private async append(deploymentId: string, stream: string, text: string): Promise<void> {
    const at = this.now();
    try {
      const id = await this.repo.appendLog(deploymentId, at, stream, text);
      this.deps.events.emit('deployment-log', { deploymentId, id, at, stream, text });
    } catch {
      /* the deployment (and its log) went with its app */
    }
  }

  /** A queued job ends `canceled` at once; a running one is asked to stop (its worker cleans up, then ends it). */
  async cancel(d: Pick<DeploymentsTable, 'id' | 'app_id'>): Promise<void> {
    const row = await this.repo.transition(d.id, 'canceled', { error: 'canceled by request', finished_at: this.now() }, ['queued']);
    if (row) {
      this.emitStatus(row);
      await this.refreshApp(d.app_id);
      return;
    }
    if (await this.repo.requestCancel(d.id)) this.deps.events.emit('deployment-cancel', { deploymentId: d.id, appId: d.app_id });
  }

  async cancelAllFor(appId: string): Promise<void> {
    for (const d of await this.repo.pendingFor(appId)) await this.cancel(d);
  }

  /** The release now serves: it is the app's current one and the app should run. */
  async switched(appId: string, deploymentId: string): Promise<void> {
    await this.repo.updateApp(appId, { current_deployment_id: deploymentId, desired_state: 'running', health_failed: 0, health_reason: null, updated_at: this.now() });
    this.deps.events.emit('app-switched', { appId, deploymentId });
    await this.refreshApp(appId);
  }

  async stopped(appId: string): Promise<void> {
    await this.repo.updateApp(appId, { desired_state: 'stopped', health_failed: 0, health_reason: null, updated_at: this.now() });
    await this.refreshApp(appId);
  }

  /** The runtime's report on the current release (the reconciler's): written only when it changes. */
  async reportHealth(appId: string, failed: boolean, reason: string | null): Promise<void> {
    const app = await this.repo.app(appId);
    if (!app || (!!app.health_failed === failed && app.health_reason === reason)) return;
    await this.repo.updateApp(appId, { health_failed: failed ? 1 : 0, health_reason: reason, updated_at: this.now() });
    await this.refreshApp(appId);
  }

  /** Derives the app's status from fresh rows (the only writer of `apps.status`). */
  async refreshApp(appId: string): Promise<void> {
    const app = await this.repo.app(appId);
    if (!app) return;
    const derived = deriveAppStatus(app, await this.repo.pendingFor(appId), await this.repo.newestFinal(appId));
    if (derived.status === app.status && derived.reason === app.status_reason) return;
    await this.repo.updateApp(appId, { status: derived.status, status_reason: derived.reason, updated_at: this.now() });
    this.deps.events.emit('app-status', { appId, status: derived.status, reason: derived.reason });
  }

  /**
   * At start: jobs cut off by the previous process end now. One cut off after its switch serves, so it succeeded;
   * any other failed (`interrupted`). Queued jobs stay queued and run.
   */
  async endInterrupted(): Promise<number> {
    let interrupted = 0;
    for (const d of await this.repo.active()) {
      const app = await this.repo.app(d.app_id);
      if (app?.current_deployment_id === d.id) {
        await this.finish(d, 'succeeded');
        continue;
      }
      await this.log(d.id, 'error', 'interrupted: the control plane restarted during this deployment');
      if (await this.finish(d, 'failed', 'interrupted')) interrupted++;
    }
    return interrupted;
  }

  /**
   * Resolves with the job once it is final, or undefined when it (and its app) no longer exist. Listens to the
   * status events and looks again now and then, so a missed event or a deleted row cannot hang a caller.
   */
  async waitFinal(deploymentId: string, timeoutMs: number): Promise<DeploymentsTable | undefined> {
    const end = Date.now() + timeoutMs;
    let wake: () => void = () => {};
    const onStatus = (e: { deploymentId: string; status: string }) => {
      if (e.deploymentId === deploymentId && isFinal(e.status)) wake();
    };
    this.deps.events.on('deployment-status', onStatus);
    try {
      for (;;) {
        const d = await this.repo.byId(deploymentId);
        if (!d || isFinal(d.status)) return d;
        const left = end - Date.now();
        if (left <= 0) return d;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 500));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      this.deps.events.off('deployment-status', onStatus);
    }
  }

  /** Announces the row as its transition wrote it. */
  private emitStatus(d: DeploymentsTable): void {
    this.deps.events.emit('deployment-status', { deploymentId: d.id, appId: d.app_id, status: d.status, trigger: d.trigger, createdAt: d.created_at, finishedAt: d.finished_at });
  }
}
