// Desired state, restored. At start (before the ingress listens), every RECONCILE_INTERVAL_S, after every job and on
// the runtime's events, each app of this control plane's orgs is brought back to what its rows say: a running app's
// missing or dead replicas are started again or recreated from its current release, extras go, routes follow the
// replicas that answer. An app whose replicas keep failing is `failed` with the reason, `running` again once they
// answer. Work on an app happens under its lock, so it never races a job or a delete.
import type { Deps } from '../../deps.js';
import type { AppLocks } from '../../lib/app-locks.js';
import { reasonOf } from '../../lib/step-timeout.js';
import { needsVault, replicasOf, type AppSpec } from '../apps/app-spec.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import { isFinal } from '../deployments/deployment-status.js';
import type { DeploymentsService } from '../deployments/deployments.service.js';
import type { AppRouting } from '../routing/app-routing.js';
import type { AppRuntime, Replica, RuntimeEvent } from '../runtime/app-runtime.js';
import { builtImageTag } from '../runtime/names.js';
import type { VaultService } from '../vault/vault.service.js';
import type { Images, ReleaseBuilder } from '../worker/release-builder.js';

export interface ReconcilerDeps {
  config: Deps['config'];
  log: Deps['log'];
  events: Deps['events'];
  deployments: DeploymentsService;
  runtime: AppRuntime;
  routing: AppRouting;
  releases: ReleaseBuilder;
  vault: VaultService;
  locks: AppLocks;
}

export interface ReconcilerOptions {
  intervalMs?: number;
  /** After a replica goes down: give the engine's restart policy this long before acting. */
  settleMs?: number;
  /** This many deaths of one app's replicas within `failWindowMs` while it cannot serve make it `failed`. */
  failAfter?: number;
  failWindowMs?: number;
}

/**
 * What the reconciler did to restore desired state, announced as 'reconcile-action' (the metrics count them):
 * containers of deleted apps removed (`orphans_removed`, per app), replicas of releases no longer current removed
 * (`stale_removed`), replicas beyond the release's count removed (`surplus_removed`), a stopped app's replicas
 * stopped (`stopped`), stopped replicas started again (`restarted`), missing or broken ones recreated (`recreated`),
 * an app marked `failed` (crash loop, replicas it cannot recreate) or back to running (`marked_failed`, `recovered`).
 */
export const RECONCILE_ACTIONS = ['orphans_removed', 'stale_removed', 'surplus_removed', 'stopped', 'restarted', 'recreated', 'marked_failed', 'recovered'] as const;
export type ReconcileAction = (typeof RECONCILE_ACTIONS)[number];

interface Death {
  at: number;
  service: string;
  what: string;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly deaths = new Map<string, Death[]>();
  /** Apps a job or a delete held when they were due: looked at again shortly. */
  private readonly dirty = new Set<string>();
  private running = false;
  private passing: Promise<unknown> = Promise.resolve();
  private readonly o: Required<ReconcilerOptions>;

  private readonly onRuntime = (e: RuntimeEvent) => void this.onRuntimeEvent(e).catch((err) => this.d.log.warn({ err }, 'reconcile after a runtime event failed'));
  private readonly onStatus = (e: { appId: string; status: string }) => {
    // A job ended: the app is free again, so whatever happened meanwhile is repaired now.
    if (isFinal(e.status) && e.appId) this.soon(e.appId, 0);
  };
  private readonly onUnsealed = () => void this.afterUnseal().catch((err) => this.d.log.warn({ err }, 'reconcile after unseal failed'));

  constructor(
    private readonly d: ReconcilerDeps,
    opts: ReconcilerOptions = {},
  ) {
    this.o = { intervalMs: opts.intervalMs ?? d.config.reconcileIntervalS * 1000, settleMs: opts.settleMs ?? 300, failAfter: opts.failAfter ?? 3, failWindowMs: opts.failWindowMs ?? 60_000 };
  }

  /** The first pass, before the ingress answers anyone: jobs cut off by a restart end, leftovers go, routes are rebuilt. */
  async start(): Promise<void> {
    const interrupted = await this.d.deployments.endInterrupted();
    const apps = await this.d.deployments.repo.allApps();
    // Replicas that ran before this process started are proven (probed) before they are routed.
    const replicas = (await Promise.all(apps.map((a) => this.d.runtime.replicas(a.id)))).flat();
    await this.d.runtime.proveRunning(replicas, 2_000);
    await this.pass();
    this.d.log.info({ interrupted, apps: apps.length }, 'reconciled');
    this.running = true;
    this.d.events.on('runtime', this.onRuntime);
    this.d.events.on('deployment-status', this.onStatus);
    this.d.events.on('vault-unsealed', this.onUnsealed);
    this.timer = setInterval(() => void this.pass(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    this.d.events.off('runtime', this.onRuntime);
    this.d.events.off('deployment-status', this.onStatus);
    this.d.events.off('vault-unsealed', this.onUnsealed);
    await this.passing.catch(() => {});
  }

  /** Every app, one after another (the interval's work, and a resync's). */
  pass(): Promise<void> {
    const run = this.passing.then(async () => {
      await this.removeOrphans();
      for (const app of await this.d.deployments.repo.allApps()) await this.reconcileApp(app.id);
    });
    this.passing = run.catch((err) => this.d.log.warn({ err }, 'reconcile pass failed'));
    return this.passing as Promise<void>;
  }

  /** Brings one app to its desired state, unless a job or a delete holds it (they call back when done). */
  async reconcileApp(appId: string): Promise<void> {
    try {
      const done = await this.d.locks.tryRun(appId, () => this.converge(appId));
      if (done === undefined) this.dirty.add(appId);
      else this.dirty.delete(appId);
    } catch (err) {
      // Left to the next interval pass (or event): retrying at once would only repeat an engine's refusal.
      this.dirty.delete(appId);
      this.d.log.warn({ err, appId }, 'reconcile of an app failed');
    }
  }

  private async converge(appId: string): Promise<void> {
    const app = await this.d.deployments.repo.app(appId);
    if (!app) return;
    const all = await this.d.runtime.replicas(appId);
    const current = app.current_deployment_id;
    const extras = all.filter((r) => r.deploymentId !== current);
    if (extras.length) {
      await this.d.runtime.removeReplicas(extras.map((r) => r.id));
      this.acted(appId, 'stale_removed', extras.length);
    }
    if (!current) return;
    const release = await this.d.deployments.repo.byId(current);
    if (!release) return;
    const spec = JSON.parse(release.spec) as AppSpec;
    const mine = all.filter((r) => r.deploymentId === current);

    // Which replicas the release wants, which are there twice or beyond its count, which are missing.
    const keep = new Map<string, Replica>();
    const surplus: Replica[] = [];
    for (const r of mine.sort((a, b) => Number(b.running) - Number(a.running) || b.createdAt.localeCompare(a.createdAt))) {
      const svc = spec.services.find((s) => s.name === r.service);
      const key = `${r.service}#${r.index}`;
      if (!svc || r.index >= replicasOf(svc) || keep.has(key)) surplus.push(r);
      else keep.set(key, r);
    }
    if (surplus.length) {
      await this.d.runtime.removeReplicas(surplus.map((r) => r.id));
      this.acted(appId, 'surplus_removed', surplus.length);
    }

    if (app.desired_state === 'stopped') {
      if ([...keep.values()].some((r) => r.running)) {
        await this.d.runtime.stopApp(appId);
        this.acted(appId, 'stopped', 1);
      }
      await this.d.routing.refresh(appId);
      return;
    }

    const missing: { service: string; index: number }[] = [];
    for (const svc of spec.services) for (let i = 0; i < replicasOf(svc); i++) if (!keep.has(`${svc.name}#${i}`)) missing.push({ service: svc.name, index: i });
    // `restarting` is the engine's own restart policy at work: left to it (counted as a death by the events).
    const stopped = [...keep.values()].filter((r) => !r.running && r.state !== 'restarting');
    let waiting: string | null = null;
    if (missing.length || stopped.length) {
      const broken = stopped.length ? await this.d.runtime.restartStopped(stopped) : [];
      this.acted(appId, 'restarted', stopped.length - broken.length);
      if (missing.length || broken.length) {
        if (this.d.vault.sealed && needsVault(spec, false)) {
          waiting = `waiting for the vault to be unsealed to recreate ${missing.length + broken.length} container(s)`;
        } else {
          const built = await this.d.releases.build(app, release, imagesOf(app, release, spec));
          await this.d.runtime.repair(built, missing, broken);
          this.acted(appId, 'recreated', missing.length + broken.length);
          this.d.log.info({ appId, recreated: missing.length + broken.length }, 'recreated replicas of a running app');
        }
      }
    }
    await this.d.routing.refresh(appId);
    await this.reportHealth(app, spec, current, waiting);
  }

  /**
   * `failed` when a service has no replica answering and either its replicas keep dying or they cannot be recreated
   * (sealed vault); `running` with a note when only some replicas are down; clean once all answer.
   */
  private async reportHealth(app: AppsTable, spec: AppSpec, deploymentId: string, waiting: string | null): Promise<void> {
    const replicas = await this.d.runtime.replicas(app.id, deploymentId);
    const recent = (this.deaths.get(app.id) ?? []).filter((x) => x.at > Date.now() - this.o.failWindowMs);
    this.deaths.set(app.id, recent);
    let failed = false;
    const notes: string[] = [];
    for (const svc of spec.services) {
      const up = replicas.filter((r) => r.service === svc.name && r.healthy).length;
      const want = replicasOf(svc);
      if (up >= want) continue;
      const died = recent.filter((x) => x.service === svc.name);
      if (up === 0 && (died.length >= this.o.failAfter || waiting)) {
        failed = true;
        notes.push(waiting ?? `${svc.name} keeps failing: ${died.at(-1)!.what} (${died.length} times in ${Math.round(this.o.failWindowMs / 1000)} s)`);
      } else if (died.length >= this.o.failAfter) notes.push(`${svc.name}: ${up}/${want} replicas answer; ${died.at(-1)!.what}`);
      else if (waiting) notes.push(waiting);
    }
    await this.d.deployments.reportHealth(app.id, failed, notes.length ? [...new Set(notes)].join('; ') : null);
    if (failed !== !!app.health_failed) this.acted(app.id, failed ? 'marked_failed' : 'recovered', 1);
  }

  private acted(appId: string, kind: ReconcileAction, count: number): void {
    if (count > 0) this.d.events.emit('reconcile-action', { appId, kind, count });
  }

  private async onRuntimeEvent(e: RuntimeEvent): Promise<void> {
    if (!this.running) return;
    if (e.type === 'resync') return void (await this.pass());
    if (e.type === 'engine-down') {
      this.d.log.warn({ reason: e.reason }, 'the engine does not answer: every app answers 503 until it is back');
      for (const app of await this.d.deployments.repo.allApps()) await this.d.routing.refresh(app.id).catch(() => {});
      return;
    }
    const app = await this.d.deployments.repo.app(e.appId);
    if (!app || app.current_deployment_id !== e.deploymentId) return;
    await this.d.routing.refresh(e.appId);
    if (e.type === 'replica-down') {
      if (e.action === 'die' || e.action === 'oom') {
        const service = (await this.d.runtime.replicas(e.appId, e.deploymentId)).find((r) => r.id === e.replicaId)?.service ?? 'app';
        const what = e.action === 'oom' ? 'killed for running out of memory (OOM)' : `exited with code ${e.exitCode ?? '?'}`;
        this.deaths.set(e.appId, [...(this.deaths.get(e.appId) ?? []), { at: Date.now(), service, what }].slice(-50));
      }
      this.soon(e.appId, this.o.settleMs);
    } else {
      const spec = JSON.parse((await this.d.deployments.repo.byId(e.deploymentId))?.spec ?? app.spec) as AppSpec;
      await this.d.locks.tryRun(e.appId, () => this.reportHealth(app, spec, e.deploymentId, null));
    }
  }

  /** Reconciles the app after `ms` (one timer per app: a burst of events is one pass). */
  private soon(appId: string, ms: number): void {
    if (!this.running || this.pending.has(appId)) return;
    const t = setTimeout(() => {
      this.pending.delete(appId);
      // Still held by a job (or failed): look again shortly; a job's end also calls back here.
      void this.reconcileApp(appId).then(() => {
        if (this.dirty.has(appId)) this.soon(appId, this.o.settleMs);
      });
    }, ms);
    this.pending.set(appId, t);
  }

  /** Once the keys are back: secret files go back to the runtime (it lost them with a restart), waiting apps recover. */
  private async afterUnseal(): Promise<void> {
    for (const app of await this.d.deployments.repo.allApps()) {
      if (!app.current_deployment_id) continue;
      const release = await this.d.deployments.repo.byId(app.current_deployment_id);
      if (!release) continue;
      const spec = JSON.parse(release.spec) as AppSpec;
      if (!spec.secretFiles.length && !spec.services.some((s) => s.secretFiles.length)) continue;
      try {
        await this.d.runtime.holdSecretFiles(await this.d.releases.build(app, release, imagesOf(app, release, spec)));
      } catch (err) {
        this.d.log.warn({ err: reasonOf(err), appId: app.id }, 'could not hand secret files back to the runtime');
      }
    }
    await this.pass();
  }

  /** Containers, networks and volumes of deleted apps of this control plane's orgs (never another's). */
  private async removeOrphans(): Promise<void> {
    const orgs = new Set(await this.d.deployments.repo.orgIds());
    const known = new Set((await this.d.deployments.repo.allApps()).map((a) => a.id));
    for (const appId of await this.d.runtime.appsOnRuntime(orgs)) {
      if (known.has(appId)) continue;
      await this.d.runtime.removeApp(appId).then(
        () => this.acted(appId, 'orphans_removed', 1),
        (err) => this.d.log.warn({ err, appId }, 'could not remove what a deleted app left'),
      );
    }
  }
}

/** The images a release ran: recorded since they were known; for releases older than that, derived as they were named. */
export function imagesOf(app: Pick<AppsTable, 'id'>, d: Pick<DeploymentsTable, 'id' | 'images'>, spec: AppSpec): Images {
  if (d.images) return JSON.parse(d.images) as Images;
  return Object.fromEntries(spec.services.map((s) => [s.name, s.image ?? builtImageTag(app.id, d.id, s.name)]));
}
