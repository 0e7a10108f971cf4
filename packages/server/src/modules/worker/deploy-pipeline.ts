// What a job does, top to bottom. A rollout: images (build, reuse or pull) → env and secret files → start the new
// release and wait until healthy → switch the routes → the app's current release → retire the old one → prune
// images. Nothing serving is touched before the switch, so any failure up to it leaves the previous release in
// place. A stop: routes answer 503, the containers stop, the app is `stopped`.
import { isImageId } from '@cynchro/docker-driver';
import type { Deps } from '../../deps.js';
import { step } from '../../lib/step-timeout.js';
import type { AppSpec } from '../apps/app-spec.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import type { DeploymentsService } from '../deployments/deployments.service.js';
import type { AppRouting } from '../routing/app-routing.js';
import type { AppRuntime } from '../runtime/app-runtime.js';
import { AAD } from '../vault/aad.js';
import type { VaultService } from '../vault/vault.service.js';
import type { Images, ReleaseBuilder } from './release-builder.js';
import type { FairSemaphore } from './fair-semaphore.js';

export interface PipelineTimeouts {
  buildMs: number;
  pullMs: number;
  startMs: number;
  healthMs: number;
  switchMs: number;
  /** After the switch, old containers get this long to finish requests already routed to them. */
  drainMs: number;
}

export const DEFAULT_TIMEOUTS: PipelineTimeouts = { buildMs: 20 * 60_000, pullMs: 5 * 60_000, startMs: 60_000, healthMs: 90_000, switchMs: 30_000, drainMs: 2_000 };

export interface PipelineDeps {
  config: Deps['config'];
  log: Deps['log'];
  /** Where each build's end is announced ('build-finished'). */
  events: Deps['events'];
  runtime: AppRuntime;
  routing: AppRouting;
  deployments: DeploymentsService;
  releases: ReleaseBuilder;
  vault: VaultService;
  /** Bounds concurrent builds, shared fairly between orgs; a deployment holds one slot for its whole build phase. */
  buildSlots: FairSemaphore;
  timeouts: PipelineTimeouts;
}

export class DeployPipeline {
  constructor(private readonly d: PipelineDeps) {}

  async run(job: DeploymentsTable, app: AppsTable, signal: AbortSignal): Promise<void> {
    if (job.trigger === 'stop') return this.stop(job, app);
    const log = (text: string) => this.d.deployments.log(job.id, 'system', text);
    const spec = JSON.parse(job.spec) as AppSpec;

    // What the release needs whatever its images (the app's network) is made meanwhile; startRelease waits for it
    // and answers its error, if any.
    void this.d.runtime.prepare({ appId: app.id, orgId: app.org_id }).catch(() => undefined);
    const { images, ids } = await this.images(job, app, spec, signal);
    await this.d.deployments.advance(job, 'deploying', { images: JSON.stringify(images), image_ids: JSON.stringify(ids) });

    const release = await this.d.releases.build(app, job, images);
    await log(`materialised env for ${release.services.length} service(s)`);

    await this.d.runtime.startRelease(release, { signal, log, startMs: this.d.timeouts.startMs, healthMs: this.d.timeouts.healthMs });

    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('canceled');
    // The new release serves and is the app's current one from here on, so a crash after this point keeps it.
    await step('ingress switch', this.d.timeouts.switchMs, signal, () =>
      this.d.routing.switchTo({ app, spec, deploymentId: job.id }, () => this.d.deployments.switched(app.id, job.id)),
    );
    await log(`traffic switched to ${job.id}`);

    const removed = await this.d.runtime.retireOthers(app.id, job.id, this.d.timeouts.drainMs).catch(async (e: unknown) => {
      await log(`could not remove old containers yet: ${(e as Error).message} (reconciliation will)`);
      return 0;
    });
    await log(`deployment succeeded; removed ${removed} old container(s)`);
    await this.prune(job, app, images);
  }

  /**
   * Every service's image: the ones this job already names (restart, rollback), else built from the repo or pulled;
   * and exactly what each runs (`ids`): a built image's id, a named image's id as the runtime has it now.
   */
  private async images(job: DeploymentsTable, app: AppsTable, spec: AppSpec, signal: AbortSignal): Promise<{ images: Images; ids: Images }> {
    const images: Images = job.images ? (JSON.parse(job.images) as Images) : {};
    const log = (stream: string, text: string) => void this.d.deployments.log(job.id, stream, text);
    const toBuild = spec.services.filter((s) => s.build && !images[s.name]);
    if (toBuild.length) {
      if (!spec.repo) throw new Error('services to build but no repo');
      const token = spec.repo.token ? this.d.vault.decrypt(AAD.repoToken(app.org_id, app.id), spec.repo.token) : undefined;
      const slots = this.d.buildSlots;
      if (slots.busy(app.org_id)) log('system', `waiting for a build slot (${slots.inUse} build(s) running)`);
      const release = await slots.acquire(app.org_id, signal);
      // Every service builds the same commit: the pushed one, else whatever the first clone found at the branch head.
      let commit = job.commit_sha;
      try {
        for (const svc of toBuild) {
          log('system', `building ${svc.name} from ${spec.repo.url}#${spec.repo.branch} (${svc.build!.dockerfile})`);
          const built = await this.timedBuild(job, svc.name, signal, () =>
            step(`build of ${svc.name}`, this.d.timeouts.buildMs, signal, (s) =>
              this.d.runtime.build({
                ref: { appId: app.id, orgId: app.org_id, deploymentId: job.id },
                service: svc.name,
                repoUrl: spec.repo!.url,
                branch: spec.repo!.branch,
                ...(commit ? { commit } : {}),
                dockerfile: svc.build!.dockerfile,
                context: svc.build!.context,
                ...(token ? { token } : {}),
                allowHosts: this.d.config.gitAllowHosts,
                onLine: (l) => log('build', l),
                signal: s,
                timeoutMs: this.d.timeouts.buildMs,
              }),
            ),
          );
          images[svc.name] = built.image;
          commit = built.commitSha;
          await this.d.deployments.record(job.id, { commit_sha: built.commitSha });
          log('system', `built ${built.image} at commit ${built.commitSha}`);
        }
      } finally {
        release();
      }
    }
    const ids: Images = {};
    for (const svc of spec.services) {
      // A named image is pulled again if it went (a restart or rollback names it too); built ones run by id.
      const ref = images[svc.name] ?? svc.image;
      if (!ref) continue;
      if (isImageId(ref)) {
        ids[svc.name] = ref;
        continue;
      }
      ids[svc.name] = await step(`pull of ${ref}`, this.d.timeouts.pullMs, signal, (s) =>
        this.d.runtime.ensureImage(ref, { signal: s, onLine: (l) => log('pull', l), timeoutMs: this.d.timeouts.pullMs }),
      );
      images[svc.name] = ref;
    }
    return { images, ids };
  }

  /**
   * Keeps the built images of the app's last KEEP_RELEASES succeeded deployments (and this one's), removes its other
   * built images. Best effort: a failed prune never fails the deployment; the next successful one prunes again.
   */
  private async prune(job: DeploymentsTable, app: AppsTable, images: Images): Promise<void> {
    try {
      const kept = await this.d.deployments.repo.succeeded(app.id, this.d.config.keepReleases - 1);
      const protect = new Set(Object.values(images));
      for (const d of kept) for (const ref of Object.values(JSON.parse(d.images ?? '{}') as Images)) protect.add(ref);
      const pruned = await this.d.runtime.pruneImages(app.id, 0, [...protect]);
      if (pruned.length) await this.d.deployments.log(job.id, 'system', `pruned ${pruned.length} old image(s)`);
    } catch (err) {
      this.d.log.warn({ err, appId: app.id, deploymentId: job.id }, 'pruning old images failed');
    }
  }

  /** Runs one service's build and announces how it ended and how long it took (canceled: the job was aborted). */
  private async timedBuild<T>(job: DeploymentsTable, service: string, signal: AbortSignal, build: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let outcome: 'succeeded' | 'failed' | 'canceled' = 'failed';
    try {
      const built = await build();
      outcome = 'succeeded';
      return built;
    } catch (e) {
      if (signal.aborted) outcome = 'canceled';
      throw e;
    } finally {
      this.d.events.emit('build-finished', { appId: job.app_id, deploymentId: job.id, service, outcome, seconds: (performance.now() - started) / 1000 });
    }
  }

  private async stop(job: DeploymentsTable, app: AppsTable): Promise<void> {
    await this.d.routing.switchTo({ app, spec: JSON.parse(app.spec) as AppSpec, deploymentId: null }, () => this.d.deployments.stopped(app.id));
    await this.d.runtime.stopApp(app.id);
    await this.d.deployments.log(job.id, 'system', 'the app is stopped; its domains answer 503');
  }
}
