// The deployment worker: drives the durable job table (the `deployments` rows) with at most one active deployment
// per app and a bounded number overall. Every state change is a conditional update, so a race, a cancel or a
// restart can never move a deployment out of a final state or leave it `building`/`deploying` forever.
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors/app-error.js';
import { AppsRepo } from '../apps/apps.repo.js';
import type { AppSpec } from '../apps/app-spec.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import type { SecretsService } from '../secrets/secrets.service.js';
import type { VaultService } from '../vault/vault.service.js';
import { DEFAULT_TIMEOUTS, pruneBuiltImages, removeDeploymentContainers, removeOtherDeployments, runPipeline, type PipelineTimeouts } from './deploy-pipeline.js';
import type { DeploymentQueue } from './deployment-queue.js';
import { reconcile } from './reconcile.js';
import { Semaphore } from './semaphore.js';
import { Canceled, reasonOf } from './step-timeout.js';

export interface WorkerOptions {
  concurrency?: number;
  pollMs?: number;
  timeouts?: Partial<PipelineTimeouts>;
  /** Image builds running at once across the worker (clone + docker build are heavy); default 1. */
  buildConcurrency?: number;
}

type WorkerDeps = Pick<Deps, 'db' | 'docker' | 'ingress' | 'config' | 'clock' | 'events' | 'log'>;

export class DeploymentWorker implements DeploymentQueue {
  private readonly repo: AppsRepo;
  private readonly running = new Map<string, { appId: string; ac: AbortController; done: Promise<void> }>();
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly timeouts: PipelineTimeouts;
  private readonly buildSlots: Semaphore;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = true;
  private services: { vault: VaultService; secrets: SecretsService } | undefined;

  constructor(
    private readonly deps: WorkerDeps,
    opts: WorkerOptions = {},
  ) {
    this.repo = new AppsRepo(deps.db);
    this.concurrency = opts.concurrency ?? 2;
    this.pollMs = opts.pollMs ?? 1000;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.buildSlots = new Semaphore(opts.buildConcurrency ?? 1);
  }

  /** The services the pipeline uses exist after the worker (they kick it); they are attached before start. */
  attach(services: { vault: VaultService; secrets: SecretsService }): void {
    this.services = services;
  }

  async start(): Promise<void> {
    await reconcile({ ...this.deps, repo: this.repo });
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops taking work and aborts what runs; interrupted deployments end `failed` (`interrupted`). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const r of this.running.values()) r.ac.abort(new Error('interrupted'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick()
      .catch((e) => this.deps.log.error({ err: e }, 'deployment worker tick failed'))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async cancel(deploymentId: string): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    if (await this.repo.transition(deploymentId, 'canceled', { error: 'canceled by request', finished_at: now }, ['queued'])) {
      this.emitStatus(deploymentId, 'canceled');
      return;
    }
    await this.repo.requestCancel(deploymentId);
    this.running.get(deploymentId)?.ac.abort(new Canceled());
  }

  /** Resolves when nothing is queued or running (tests and graceful shutdown). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const left = await this.deps.db.selectFrom('deployments').select('id').where('status', 'in', ['queued', 'building', 'deploying']).execute();
      if (!left.length && !this.running.size) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('worker did not become idle');
  }

  private async tick(): Promise<void> {
    if (this.stopped || !this.services) return;
    const free = this.concurrency - this.running.size;
    if (free <= 0) return;
    const candidates = await this.repo.nextRunnable(free + this.running.size);
    for (const d of candidates) {
      if (this.running.size >= this.concurrency) break;
      if (this.running.has(d.id) || [...this.running.values()].some((r) => r.appId === d.app_id)) continue;
      const spec = JSON.parse(d.spec) as AppSpec;
      const first = spec.services.some((s) => s.build) ? 'building' : 'deploying';
      const now = this.deps.clock.now().toISOString();
      if (!(await this.repo.transition(d.id, first, { started_at: now }, ['queued']))) continue; // someone else took it
      this.emitStatus(d.id, first, d.app_id);
      const ac = new AbortController();
      const done = this.execute({ ...d, status: first, started_at: now }, ac).finally(() => {
        this.running.delete(d.id);
        this.kick();
      });
      this.running.set(d.id, { appId: d.app_id, ac, done });
    }
  }

  private async execute(deployment: DeploymentsTable, ac: AbortController): Promise<void> {
    const app = await this.repo.findById(deployment.app_id);
    if (!app) {
      await this.finish(deployment, 'failed', 'the app was deleted');
      return;
    }
    const log = async (stream: string, text: string) => {
      const at = this.deps.clock.now().toISOString();
      try {
        const id = await this.repo.appendLog(deployment.id, at, stream, text);
        this.deps.events.emit('deployment-log', { deploymentId: deployment.id, id, at, stream, text });
      } catch {
        /* the deployment (and its log) was deleted with its app */
      }
    };
    if (app.status !== 'running') await this.repo.setStatus(app.id, 'deploying', this.deps.clock.now().toISOString());
    try {
      await runPipeline({ deps: this.deps, repo: this.repo, vault: this.services!.vault, secrets: this.services!.secrets, timeouts: this.timeouts, app, deployment, signal: ac.signal, log, buildSlots: this.buildSlots });
      // The new version serves: make it the app's current one first, so a crash from here on keeps it.
      await this.repo.setCurrent(app.id, deployment.id, this.deps.clock.now().toISOString());
      this.deps.events.emit('app-switched', { appId: app.id, deploymentId: deployment.id });
      const removed = await removeOtherDeployments(this.deps.docker, app.id, deployment.id, this.timeouts.drainMs).catch((e) => {
        void log('system', `could not remove old containers yet: ${reasonOf(e)} (reconciliation will)`);
        return 0;
      });
      await log('system', `deployment succeeded; removed ${removed} old container(s)`);
      // Best effort: a failed prune never fails the deployment; the next successful one prunes again.
      try {
        const pruned = await pruneBuiltImages(this.deps.docker, app.id, deployment.id, JSON.parse(deployment.spec) as AppSpec);
        if (pruned.length) await log('system', `pruned ${pruned.length} old image(s)`);
      } catch (err) {
        this.deps.log.warn({ err, appId: app.id, deploymentId: deployment.id }, 'pruning old images failed');
        await log('system', `could not prune old images: ${reasonOf(err)}`);
      }
      if (await this.repo.transition(deployment.id, 'succeeded', { finished_at: this.deps.clock.now().toISOString() })) {
        this.emitStatus(deployment.id, 'succeeded', app.id);
      }
    } catch (e) {
      const canceled = e instanceof Canceled || ac.signal.reason instanceof Canceled;
      const interrupted = !canceled && ac.signal.aborted;
      const reason = canceled ? 'canceled by request' : interrupted ? 'interrupted' : reasonOf(e);
      await log('error', reason);
      await removeDeploymentContainers(this.deps.docker, deployment.id).catch((err) => this.deps.log.warn({ err }, 'cleanup of a failed deployment'));
      await this.finish(deployment, canceled ? 'canceled' : 'failed', reason);
      await this.settleAppStatus(app);
    }
  }

  private async finish(d: DeploymentsTable, status: 'failed' | 'canceled', error: string): Promise<void> {
    if (await this.repo.transition(d.id, status, { error, finished_at: this.deps.clock.now().toISOString() })) this.emitStatus(d.id, status, d.app_id);
  }

  /** After a failure: the app is `running` if its previous version still serves, else as it was or `failed`. */
  private async settleAppStatus(app: AppsTable): Promise<void> {
    const fresh = await this.repo.findById(app.id);
    if (!fresh) return;
    const status = fresh.current_deployment_id ? (app.status === 'stopped' ? 'stopped' : 'running') : 'failed';
    await this.repo.setStatus(app.id, status, this.deps.clock.now().toISOString());
  }

  private emitStatus(deploymentId: string, status: string, appId = ''): void {
    this.deps.events.emit('deployment-status', { deploymentId, appId, status });
  }
}

export function assertCancellable(d: DeploymentsTable | undefined): asserts d is DeploymentsTable {
  if (!d) throw new AppError('deployment_not_found');
  if (d.status === 'succeeded' || d.status === 'failed' || d.status === 'canceled') {
    throw new AppError('conflict', `The deployment already ended (${d.status})`);
  }
}
