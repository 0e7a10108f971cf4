// The worker drives the durable job table (the `deployments` rows): at most one job per app (under the app's lock,
// which the reconciler and deletes also take) and a bounded number overall. It never writes a status itself: the
// deployments module does, conditionally, so a race, a cancel or a restart can never move a job out of a final
// state. It wakes on the deployments module's events (queued, cancel) and the vault's (unsealed).
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors/app-error.js';
import { Canceled, reasonOf } from '../../lib/step-timeout.js';
import { needsVault, type AppSpec } from '../apps/app-spec.js';
import type { DeploymentsTable } from '../apps/apps.tables.js';
import { isFinal, rollsOut } from '../deployments/deployment-status.js';
import type { DeploymentsService } from '../deployments/deployments.service.js';
import type { AppRuntime } from '../runtime/app-runtime.js';
import type { VaultService } from '../vault/vault.service.js';
import type { AppLocks } from '../../lib/app-locks.js';
import type { DeployPipeline } from './deploy-pipeline.js';

export interface WorkerOptions {
  concurrency?: number;
  pollMs?: number;
}

export interface WorkerDeps {
  events: Deps['events'];
  log: Deps['log'];
  deployments: DeploymentsService;
  pipeline: DeployPipeline;
  runtime: AppRuntime;
  locks: AppLocks;
  vault: VaultService;
}

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

export class DeploymentWorker {
  private readonly running = new Map<string, { appId: string; orgId: string; ac: AbortController; done: Promise<void> }>();
  /** Apps being deleted: their jobs are not taken. */
  private readonly blocked = new Set<string>();
  /** Jobs already told they wait for the vault (said once in their log). */
  private readonly waitingNoted = new Set<string>();
  private readonly concurrency: number;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = true;
  private readonly onStatus = (e: { status: string }) => {
    if (e.status === 'queued') this.kick();
  };
  private readonly onCancel = (e: { deploymentId: string }) => this.running.get(e.deploymentId)?.ac.abort(new Canceled());
  private readonly onUnsealed = () => this.kick();

  constructor(
    private readonly d: WorkerDeps,
    opts: WorkerOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 4;
    this.pollMs = opts.pollMs ?? 1000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.d.events.on('deployment-status', this.onStatus);
    this.d.events.on('deployment-cancel', this.onCancel);
    this.d.events.on('vault-unsealed', this.onUnsealed);
    // The events are the fast path; polling is the fallback that makes a missed one harmless.
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops taking work and aborts what runs; interrupted jobs end `failed` (`interrupted`). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.d.events.off('deployment-status', this.onStatus);
    this.d.events.off('deployment-cancel', this.onCancel);
    this.d.events.off('vault-unsealed', this.onUnsealed);
    for (const r of this.running.values()) r.ac.abort(new Interrupted());
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
      .catch((e) => this.d.log.error({ err: e }, 'deployment worker tick failed'))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * Runs `fn` with the app to itself: its jobs are canceled (a running one is aborted and cleans up first) and no
   * new one is taken until `fn` ends. For deleting an app.
   */
  async exclusive<T>(appId: string, fn: () => Promise<T>): Promise<T> {
    this.blocked.add(appId);
    try {
      await this.d.deployments.cancelAllFor(appId);
      for (const r of this.running.values()) if (r.appId === appId) r.ac.abort(new Canceled());
      return await this.d.locks.run(appId, fn);
    } finally {
      this.blocked.delete(appId);
    }
  }

  /** Resolves when nothing is queued or running (tests and graceful shutdown). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!(await this.d.deployments.repo.anyPending()) && !this.running.size) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('worker did not become idle');
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const free = this.concurrency - this.running.size;
    if (free <= 0) return;
    // Orgs take turns, and none takes every slot while another waits: one tenant's burst cannot starve the rest.
    const candidates = interleaveByOrg(await this.d.deployments.repo.nextRunnable(200));
    const perOrg = Math.max(1, this.concurrency - 1);
    for (const job of candidates) {
      if (this.running.size >= this.concurrency) break;
      if (this.running.has(job.id) || this.blocked.has(job.app_id) || [...this.running.values()].some((r) => r.appId === job.app_id)) continue;
      if ([...this.running.values()].filter((r) => r.orgId === job.org_id).length >= perOrg && candidates.some((c) => c.org_id !== job.org_id)) continue;
      const spec = JSON.parse(job.spec) as AppSpec;
      const building = rollsOut(job.trigger) && spec.services.some((s) => s.build) && !job.images;
      if (rollsOut(job.trigger) && this.d.vault.sealed && needsVault(spec, building)) {
        // A restarted server is sealed: the job waits for the unseal (the vault-unsealed event wakes us) instead of failing.
        if (!this.waitingNoted.has(job.id)) {
          this.waitingNoted.add(job.id);
          await this.d.deployments.log(job.id, 'system', 'waiting for the vault to be unsealed (this deployment needs its keys)');
        }
        continue;
      }
      this.waitingNoted.delete(job.id);
      const ac = new AbortController();
      const done = this.d.locks
        .run(job.app_id, () => this.execute(job, building ? 'building' : 'deploying', ac))
        .catch((e) => this.d.log.error({ err: e, deploymentId: job.id }, 'job failed unexpectedly'))
        .finally(() => {
          this.running.delete(job.id);
          this.kick();
        });
      this.running.set(job.id, { appId: job.app_id, orgId: job.org_id, ac, done });
    }
  }

  private async execute(job: DeploymentsTable, first: 'building' | 'deploying', ac: AbortController): Promise<void> {
    if (ac.signal.aborted || !(await this.d.deployments.claim(job, first))) return; // canceled or taken meanwhile
    const fresh = await this.d.deployments.repo.byId(job.id);
    if (!fresh || isFinal(fresh.status)) return;
    if (fresh.cancel_requested) ac.abort(new Canceled());
    const app = await this.d.deployments.repo.app(job.app_id);
    if (!app) {
      await this.d.deployments.finish(job, 'failed', 'the app was deleted');
      return;
    }
    try {
      await this.d.pipeline.run(fresh, app, ac.signal);
      await this.d.deployments.finish(job, 'succeeded');
    } catch (e) {
      const canceled = e instanceof Canceled || ac.signal.reason instanceof Canceled;
      const interrupted = !canceled && ac.signal.reason instanceof Interrupted;
      const reason = canceled ? 'canceled by request' : interrupted ? 'interrupted' : reasonOf(e);
      await this.d.deployments.log(job.id, 'error', reason);
      if (rollsOut(job.trigger)) {
        // Only if it never became the app's current release: a failure after the switch keeps what serves.
        const now = await this.d.deployments.repo.app(job.app_id);
        if (now?.current_deployment_id !== job.id)
          await this.d.runtime.removeRelease({ appId: job.app_id, orgId: job.org_id, deploymentId: job.id }).catch((err) => this.d.log.warn({ err }, 'cleanup of a failed deployment'));
      }
      await this.d.deployments.finish(job, canceled ? 'canceled' : 'failed', reason);
    }
  }
}

/** Oldest first within each org, the orgs in turn: a, b, c, a, b, a, … */
export function interleaveByOrg<T extends { org_id: string }>(rows: T[]): T[] {
  const byOrg = new Map<string, T[]>();
  for (const r of rows) byOrg.set(r.org_id, [...(byOrg.get(r.org_id) ?? []), r]);
  const out: T[] = [];
  for (let i = 0; out.length < rows.length; i++) for (const list of byOrg.values()) if (list[i]) out.push(list[i]!);
  return out;
}

export function assertCancellable(d: DeploymentsTable | undefined): asserts d is DeploymentsTable {
  if (!d) throw new AppError('deployment_not_found');
  if (isFinal(d.status)) throw new AppError('conflict', `The deployment already ended (${d.status})`);
}
