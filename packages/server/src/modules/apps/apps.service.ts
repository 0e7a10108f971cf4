import { AppError } from '../../errors/app-error.js';
import type { Deps } from '../../deps.js';
import { newId } from '../../lib/ids.js';
import type { AuthContext } from '../auth/auth.service.js';
import { holds } from '../auth/permissions.js';
import type { DeployService } from '../deploy/deploy.service.js';
import type { Trigger } from '../deployments/deployment-status.js';
import type { DeploymentsService } from '../deployments/deployments.service.js';
import type { AppRouting } from '../routing/app-routing.js';
import type { AppRuntime, Replica } from '../runtime/app-runtime.js';
import type { SecretsService } from '../secrets/secrets.service.js';
import { isImageId } from '@cynchro/docker-driver';
import { AAD } from '../vault/aad.js';
import type { VaultService } from '../vault/vault.service.js';
import { assertCancellable, type DeploymentWorker } from '../worker/deployment-worker.js';
import { domainsFor, replicasOf, type AppSpec } from './app-spec.js';
import { AppsRepo } from './apps.repo.js';
import type { AppDto, DeploymentDto, LogLineDto } from './apps.schema.js';
import type { AppsTable, DeploymentsTable } from './apps.tables.js';

/** A logs snapshot answers at most this much text (the newest lines), whatever the tail asks. */
export const MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024;

/** How long restart and stop wait for their job before answering (they queue behind a running deployment's cleanup). */
const ACTION_WAIT_MS = 5 * 60_000;

export interface AppsServiceDeps {
  deps: Pick<Deps, 'db' | 'ingress' | 'config' | 'clock' | 'events' | 'log'>;
  vault: VaultService;
  secrets: SecretsService;
  deploy: DeployService;
  deployments: DeploymentsService;
  runtime: AppRuntime;
  routing: AppRouting;
  worker: DeploymentWorker;
}

export class AppsService {
  private readonly repo: AppsRepo;
  private readonly deps: AppsServiceDeps['deps'];

  constructor(private readonly s: AppsServiceDeps) {
    this.deps = s.deps;
    this.repo = new AppsRepo(s.deps.db);
  }

  async require(auth: Pick<AuthContext, 'orgId'>, appId: string): Promise<AppsTable> {
    const app = await this.repo.findForOrg(auth.orgId, appId);
    if (!app) throw new AppError('app_not_found', 'No such app');
    return app;
  }

  /** The org's apps (an app-scoped API token sees its one app). */
  async list(auth: AuthContext): Promise<{ apps: AppDto[] }> {
    const apps = await this.repo.listForOrg(auth.orgId);
    return { apps: apps.filter((a) => auth.appId === null || a.id === auth.appId).map((a) => this.toDto(a)) };
  }

  /** The id of the org's app with this name, or null (none yet). */
  async idByName(orgId: string, name: string): Promise<string | null> {
    return (await this.repo.findByName(orgId, name))?.id ?? null;
  }

  /** The name of the org's app with this id, or null. */
  async nameOf(orgId: string, appId: string): Promise<string | null> {
    return (await this.repo.findForOrg(orgId, appId))?.name ?? null;
  }

  async get(auth: AuthContext, appId: string) {
    const app = await this.require(auth, appId);
    let webhook = null;
    if (app.webhook_secret) {
      // While sealed the app stays readable; only the secret is withheld. So it is from whoever may not deploy
      // (viewers, read-only tokens): the secret lets its holder trigger builds.
      const secret = this.s.vault.sealed || !holds(auth, 'deploy') ? null : this.s.vault.decrypt(AAD.webhookSecret(app.org_id, app.id), app.webhook_secret);
      webhook = this.s.deploy.webhookView(app.id, secret);
    }
    const deployments = (await this.s.deployments.repo.recent(app.id, 20)).map(toDeploymentDto);
    return { app: this.toDto(app), webhook, deployments };
  }

  /** A new webhook secret for a repo app (the old one stops verifying at once); answers the new webhook block. */
  async rotateWebhook(auth: AuthContext, appId: string) {
    const app = await this.require(auth, appId);
    const spec = JSON.parse(app.spec) as AppSpec;
    if (!app.webhook_secret && !spec.repo) throw new AppError('conflict', 'Only apps built from a repo have a webhook');
    const secret = await this.s.deploy.rotateWebhookSecret(app);
    return this.s.deploy.webhookView(app.id, secret);
  }

  /**
   * Rolls the current release out again on new containers (same images, spec and env; secrets by name at their
   * current values), with no downtime; a stopped app runs again. Queued like a deployment, so it never races one.
   */
  async restart(auth: AuthContext, appId: string): Promise<{ app: AppDto }> {
    const app = await this.require(auth, appId);
    const current = app.current_deployment_id ? await this.s.deployments.repo.byId(app.current_deployment_id) : undefined;
    if (!current) throw new AppError('conflict', 'The app has no deployed release to restart; deploy it first');
    return this.runAction(app, 'restart', { spec: current.spec, images: current.images, commitSha: current.commit_sha });
  }

  /** Cancels the app's queued and running deployments and stops its containers; its domains answer 503. */
  async stop(auth: AuthContext, appId: string): Promise<{ app: AppDto }> {
    return this.runAction(await this.require(auth, appId), 'stop', {});
  }

  /** Queues the action as a job of the app and answers once it is done (the last of several concurrent calls wins). */
  private async runAction(app: AppsTable, trigger: Extract<Trigger, 'restart' | 'stop'>, opts: { spec?: string; images?: string | null; commitSha?: string | null }): Promise<{ app: AppDto }> {
    const row = this.s.deployments.newRow(app, newId('dep'), trigger, opts);
    const queued = await this.s.deployments.enqueue(async (tx, queue) => {
      // A concurrent delete may have taken the app since it was looked up.
      if (!(await this.repo.findIn(tx, app.id))) return false;
      await queue(row);
      return true;
    });
    if (!queued) throw new AppError('app_not_found', 'No such app');
    const done = await this.s.deployments.waitFinal(row.id, ACTION_WAIT_MS);
    const fresh = await this.repo.findById(app.id);
    if (!done || !fresh) throw new AppError('app_not_found', 'No such app');
    if (done.status === 'canceled') throw new AppError('conflict', `The ${trigger} was ${done.error?.startsWith('superseded') ? done.error : 'canceled'} before it ran`);
    if (done.status === 'failed') throw new AppError('unavailable', `The ${trigger} failed: ${done.error ?? 'unknown reason'}`);
    if (done.status !== 'succeeded') throw new AppError('unavailable', `The ${trigger} is still ${done.status}; see GET /apps/${app.id}`);
    return { app: this.toDto(fresh) };
  }

  /** Removes the app and everything it owns: containers, network, volumes, images, routes, app-scoped secrets. */
  async remove(auth: AuthContext, appId: string): Promise<{ deleted: true; id: string }> {
    const app = await this.require(auth, appId);
    await this.s.worker.exclusive(app.id, async () => {
      // The row goes first: a route refresh racing this delete then finds no app and routes nothing. Anything the
      // runtime keeps if the removal below fails is an orphan the reconciler removes on its next pass.
      await this.repo.deleteApp(app.id);
      await this.s.routing.remove(app.id);
      await this.s.secrets.deleteAppSecrets(app.org_id, app.id);
      // The app is gone from here on, so the answer is 200 whatever the engine says; what it refused now (a
      // container still being removed holding the network) is an orphan the reconciler's next pass removes.
      await this.s.runtime.removeApp(app.id).catch((err: unknown) => this.deps.log.warn({ err, appId: app.id }, 'app deleted; the engine kept some of it for the reconciler to remove'));
    });
    this.deps.events.emit('app-switched', { appId: app.id, deploymentId: null });
    return { deleted: true, id: app.id };
  }

  async logs(auth: AuthContext, appId: string, tail: number): Promise<{ lines: LogLineDto[] }> {
    const app = await this.require(auth, appId);
    const lines: LogLineDto[] = [];
    for (const r of await this.currentReplicas(app)) {
      for (const l of await this.s.runtime.logs(r.id, { tail })) lines.push({ service: r.service, replica: r.index + 1, stream: l.stream, timestamp: l.timestamp, text: l.text });
    }
    lines.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
    const kept: LogLineDto[] = [];
    let bytes = 0;
    for (const l of lines.slice(-tail).reverse()) {
      bytes += Buffer.byteLength(l.text) + 64;
      if (bytes > MAX_SNAPSHOT_BYTES) break;
      kept.push(l);
    }
    return { lines: kept.reverse() };
  }

  async deploymentLogs(auth: Pick<AuthContext, 'orgId'>, appId: string, deploymentId: string) {
    const d = await this.requireDeployment(auth, appId, deploymentId);
    const rows = await this.s.deployments.repo.logs(d.id);
    const lines = rows.map((l) => ({ at: l.at, stream: l.stream, text: l.text }));
    return { deployment: toDeploymentDto(d), lines, lastId: rows.at(-1)?.id ?? 0 };
  }

  async requireDeployment(auth: Pick<AuthContext, 'orgId'>, appId: string, deploymentId: string): Promise<DeploymentsTable> {
    const app = await this.require(auth, appId);
    const d = await this.s.deployments.repo.forApp(app.id, deploymentId);
    if (!d) throw new AppError('deployment_not_found', 'No such deployment');
    return d;
  }

  /** The app's deployments, newest first, `limit` at a time; `before` is the previous page's nextCursor. */
  async deploymentsPage(auth: AuthContext, appId: string, limit: number, before?: string): Promise<{ deployments: DeploymentDto[]; nextCursor: string | null }> {
    const app = await this.require(auth, appId);
    const rows = await this.s.deployments.repo.page(app.id, limit + 1, before === undefined ? undefined : decodeCursor(before));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { deployments: page.map(toDeploymentDto), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /**
   * Queues a new deployment of exactly an earlier succeeded release (same images by id, same spec and inline env;
   * secrets by name at their current values), without a build. Default: the newest succeeded release before the
   * current one that differs from it. The app's own spec (what the next push or /deploy builds from) stays.
   */
  async rollback(auth: AuthContext, appId: string, deploymentId?: string): Promise<{ appId: string; deploymentId: string; status: 'queued'; rollbackOf: string }> {
    const app = await this.require(auth, appId);
    const target = deploymentId === undefined ? await this.defaultRollbackTarget(app) : await this.s.deployments.repo.forApp(app.id, deploymentId);
    if (!target) throw new AppError('deployment_not_found', 'No such deployment');
    if (target.status !== 'succeeded' || target.trigger === 'stop' || !target.images) {
      throw new AppError('rollback_unavailable', `Deployment ${target.id} is ${target.status === 'succeeded' ? 'a stop' : target.status}: only a succeeded release can be rolled back to`);
    }
    const images = JSON.parse(target.images) as Record<string, string>;
    const ran = target.image_ids ? (JSON.parse(target.image_ids) as Record<string, string>) : {};
    for (const [service, ref] of Object.entries(images)) {
      const now = await this.s.runtime.imageId(ref);
      // Built images must still be here; a named one is pulled again if it went, but a tag that now names another
      // image would not be the same release.
      if (isImageId(ref) && !now) {
        throw new AppError('rollback_unavailable', `The image of ${service} in ${target.id} is gone (only the last ${this.deps.config.keepReleases} releases keep theirs); deploy it again instead`);
      }
      if (!isImageId(ref) && now && ran[service] && now !== ran[service]) {
        throw new AppError('rollback_unavailable', `${ref} (service ${service}) now names another image than the one ${target.id} ran (${ran[service]}); deploy that image by digest instead`);
      }
    }
    const row = this.s.deployments.newRow(app, newId('dep'), 'rollback', { spec: target.spec, images: target.images, imageIds: target.image_ids, commitSha: target.commit_sha, rollbackOf: target.id });
    const queued = await this.s.deployments.enqueue(async (tx, queue) => {
      if (!(await this.repo.findIn(tx, app.id))) return false;
      await queue(row);
      return true;
    });
    if (!queued) throw new AppError('app_not_found', 'No such app');
    return { appId: app.id, deploymentId: row.id, status: 'queued', rollbackOf: target.id };
  }

  private async defaultRollbackTarget(app: AppsTable): Promise<DeploymentsTable> {
    const current = app.current_deployment_id ? await this.s.deployments.repo.byId(app.current_deployment_id) : undefined;
    if (!current) throw new AppError('rollback_unavailable', 'The app has no deployed release to roll back from');
    const sameRelease = (d: DeploymentsTable) => d.images === current.images && d.spec === current.spec;
    const earlier = (await this.s.deployments.repo.succeeded(app.id, 100)).find((d) => d.created_at <= current.created_at && d.id !== current.id && !sameRelease(d));
    if (!earlier) throw new AppError('rollback_unavailable', 'There is no earlier succeeded release to roll back to');
    return earlier;
  }

  async cancelDeployment(auth: AuthContext, appId: string, deploymentId: string): Promise<DeploymentDto> {
    const app = await this.require(auth, appId);
    const d = await this.s.deployments.repo.forApp(app.id, deploymentId);
    assertCancellable(d);
    await this.s.deployments.cancel(d);
    return toDeploymentDto((await this.s.deployments.repo.forApp(app.id, deploymentId))!);
  }

  /** The replicas now serving (or that would serve) the app: those of its current release. */
  async currentReplicas(app: Pick<AppsTable, 'id' | 'current_deployment_id'>): Promise<Replica[]> {
    if (!app.current_deployment_id) return [];
    return this.s.runtime.replicas(app.id, app.current_deployment_id);
  }

  toDto(a: AppsTable): AppDto {
    const spec = JSON.parse(a.spec) as AppSpec;
    const domains = new Map(domainsFor(a.name, spec, this.deps.config.rootDomain).map((d) => [d.service, d.domain]));
    return {
      id: a.id,
      name: a.name,
      kind: a.kind,
      status: a.status,
      statusReason: a.status_reason,
      domain: a.domain,
      url: this.deps.ingress.urlFor(a.domain),
      repo: spec.repo ? { url: spec.repo.url, branch: spec.repo.branch, hasToken: !!spec.repo.token } : null,
      envKeys: Object.keys(spec.env),
      envFrom: spec.envFrom,
      secretFiles: spec.secretFiles,
      services: spec.services.map((s) => {
        const domain = domains.get(s.name) ?? null;
        return {
          name: s.name,
          image: s.image ?? null,
          build: s.build ?? null,
          port: s.port ?? null,
          domain,
          url: domain ? this.deps.ingress.urlFor(domain) : null,
          command: s.command ?? null,
          envKeys: Object.keys(s.env),
          envFrom: s.envFrom,
          secretFiles: s.secretFiles,
          cpu: s.cpu,
          memory: s.memory,
          volumes: s.volumes,
          healthcheck: s.healthcheck ?? null,
          dependsOn: s.dependsOn,
          replicas: replicasOf(s),
        };
      }),
      currentDeploymentId: a.current_deployment_id,
      createdAt: a.created_at,
      updatedAt: a.updated_at,
    };
  }
}

/** A page position: the last row's (created_at, id), opaque to clients. */
function encodeCursor(d: Pick<DeploymentsTable, 'created_at' | 'id'>): string {
  return Buffer.from(`${d.created_at}|${d.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || rest.length || Number.isNaN(Date.parse(createdAt)) || !/^dep_[a-z0-9]+$/.test(id)) {
    throw AppError.validation({ before: ['must be a nextCursor from a previous page'] });
  }
  return { createdAt, id };
}

export function toDeploymentDto(d: DeploymentsTable): DeploymentDto {
  const images = d.image_ids ? (JSON.parse(d.image_ids) as Record<string, string>) : null;
  const first = images ? ((JSON.parse(d.spec) as AppSpec).services[0]?.name ?? Object.keys(images)[0]) : undefined;
  return {
    id: d.id,
    appId: d.app_id,
    status: d.status,
    trigger: d.trigger,
    rollbackOf: d.rollback_of,
    commit: d.commit_sha,
    commitSha: d.commit_sha,
    image: images && first ? (images[first] ?? null) : null,
    images,
    error: d.error,
    createdAt: d.created_at,
    startedAt: d.started_at,
    finishedAt: d.finished_at,
  };
}
