import { LABELS, type ContainerInfo } from '@cynchro/docker-driver';
import { AppError } from '../../errors/app-error.js';
import type { Deps } from '../../deps.js';
import { audit } from '../../lib/audit.js';
import type { AuthContext } from '../auth/auth.service.js';
import { webhookSecretAad } from '../deploy/deploy.service.js';
import type { DeployService } from '../deploy/deploy.service.js';
import type { SecretsService } from '../secrets/secrets.service.js';
import type { VaultService } from '../vault/vault.service.js';
import { materialise } from '../worker/deploy-pipeline.js';
import { assertCancellable } from '../worker/deployment-worker.js';
import { domainsFor, type AppSpec } from './app-spec.js';
import { AppsRepo } from './apps.repo.js';
import type { AppDto, DeploymentDto, LogLineDto } from './apps.schema.js';
import type { AppsTable, DeploymentsTable } from './apps.tables.js';

export class AppsService {
  private readonly repo: AppsRepo;

  constructor(
    private readonly deps: Pick<Deps, 'db' | 'docker' | 'ingress' | 'config' | 'clock' | 'queue' | 'events' | 'log'>,
    private readonly vault: VaultService,
    private readonly secrets: SecretsService,
    private readonly deploy: DeployService,
  ) {
    this.repo = new AppsRepo(deps.db);
  }

  async require(auth: Pick<AuthContext, 'orgId'>, appId: string): Promise<AppsTable> {
    const app = await this.repo.findForOrg(auth.orgId, appId);
    if (!app) throw new AppError('app_not_found', 'No such app');
    return app;
  }

  async list(auth: AuthContext): Promise<{ apps: AppDto[] }> {
    return { apps: (await this.repo.listForOrg(auth.orgId)).map((a) => this.toDto(a)) };
  }

  async get(auth: AuthContext, appId: string) {
    const app = await this.require(auth, appId);
    let webhook = null;
    if (app.webhook_secret) {
      // While sealed the app stays readable; only the secret is withheld.
      const secret = this.vault.sealed ? null : this.vault.decrypt(webhookSecretAad(app.org_id, app.id), app.webhook_secret);
      webhook = this.deploy.webhookView(app.id, secret);
    }
    const deployments = (await this.repo.recentDeployments(app.id, 20)).map(toDeploymentDto);
    return { app: this.toDto(app), webhook, deployments };
  }

  /** A new webhook secret for a repo app (the old one stops verifying at once); answers the new webhook block. */
  async rotateWebhook(auth: AuthContext, appId: string) {
    const app = await this.require(auth, appId);
    const spec = JSON.parse(app.spec) as AppSpec;
    if (!app.webhook_secret && !spec.repo) throw new AppError('conflict', 'Only apps built from a repo have a webhook');
    const secret = await this.deploy.rotateWebhookSecret(app);
    await audit(this.deps.db, this.deps.clock.now(), { userId: auth.userId, orgId: auth.orgId, action: 'app.webhook.rotate', outcome: 'ok', detail: app.id }).catch((err) =>
      this.deps.log.error({ err, appId: app.id }, 'audit write failed'),
    );
    return this.deploy.webhookView(app.id, secret);
  }

  /**
   * Recreates the current deployment's containers (new containers, same spec) and points the ingress at them. Secret
   * files live only in memory, so they are materialised again from that deployment's spec (after a control-plane
   * restart the engine driver no longer holds them).
   */
  async restart(auth: AuthContext, appId: string): Promise<{ app: AppDto }> {
    const app = await this.require(auth, appId);
    const containers = await this.currentContainers(app);
    if (!containers.length) throw new AppError('conflict', 'The app has no deployed containers to restart; deploy it first');
    const current = await this.repo.deploymentById(app.current_deployment_id!);
    const spec = JSON.parse(current?.spec ?? app.spec) as AppSpec;
    const needsFiles = spec.secretFiles.length > 0 || spec.services.some((s) => s.secretFiles.length > 0);
    const material = needsFiles ? await materialise(this.vault, this.secrets, app, spec) : undefined;
    const fresh: ContainerInfo[] = [];
    for (const c of containers) {
      const service = c.labels[LABELS.service] ?? 'app';
      const files = material?.get(service)?.files;
      const n = await this.deps.docker.recreateContainer(c.id, files && Object.keys(files).length ? { secretFiles: files } : undefined);
      const svc = spec.services.find((s) => s.name === service);
      await this.deps.docker.waitHealthy(n.id, { ...(svc?.port !== undefined ? { port: svc.port, http: true } : {}), ...(svc?.healthcheck ? { path: svc.healthcheck.path } : {}), timeoutMs: 60_000 });
      fresh.push(n);
    }
    await this.route(app, fresh);
    await this.repo.setStatus(app.id, 'running', this.deps.clock.now().toISOString());
    this.deps.events.emit('app-switched', { appId: app.id, deploymentId: app.current_deployment_id });
    return { app: this.toDto((await this.repo.findById(app.id))!) };
  }

  /**
   * Hands every running app's secret files back to the engine driver (it keeps them only in memory, so after a
   * control-plane restart it cannot refill the tmpfs when the engine restarts a crashed container). Runs after each
   * unseal; never throws, failures are logged per app.
   */
  async rearmSecretFiles(): Promise<number> {
    let armed = 0;
    for (const app of await this.repo.listAll()) {
      if (!app.current_deployment_id) continue;
      try {
        const current = await this.repo.deploymentById(app.current_deployment_id);
        const spec = JSON.parse(current?.spec ?? app.spec) as AppSpec;
        if (!spec.secretFiles.length && !spec.services.some((s) => s.secretFiles.length)) continue;
        const material = await materialise(this.vault, this.secrets, app, spec);
        for (const c of await this.currentContainers(app)) {
          const files = material.get(c.labels[LABELS.service] ?? 'app')?.files;
          if (files && Object.keys(files).length) {
            await this.deps.docker.holdSecretFiles(c.id, files);
            armed++;
          }
        }
      } catch (err) {
        this.deps.log.warn({ err, appId: app.id }, 'could not hand secret files back to the engine driver');
      }
    }
    return armed;
  }

  /** Stops the containers; the domain answers 503 until the app is restarted or redeployed. */
  async stop(auth: AuthContext, appId: string): Promise<{ app: AppDto }> {
    const app = await this.require(auth, appId);
    for (const d of await this.repo.activeOrQueuedFor(app.id)) await this.deps.queue.cancel(d.id);
    await this.route(app, []);
    for (const c of await this.deps.docker.listContainers({ [LABELS.app]: app.id }, { all: true })) await this.deps.docker.stopContainer(c.id, 10);
    await this.repo.setStatus(app.id, 'stopped', this.deps.clock.now().toISOString());
    return { app: this.toDto((await this.repo.findById(app.id))!) };
  }

  /** Removes the app and everything it owns: containers, network, volumes, images, routes, app-scoped secrets. */
  async remove(auth: AuthContext, appId: string): Promise<{ deleted: true; id: string }> {
    const app = await this.require(auth, appId);
    for (const d of await this.repo.activeOrQueuedFor(app.id)) await this.deps.queue.cancel(d.id);
    for (const d of await this.repo.domainsOf(app.id)) await this.deps.ingress.removeRoute(d.domain);
    await this.deps.docker.removeByLabels({ [LABELS.app]: app.id }, { volumes: true, images: true });
    await this.secrets.deleteAppSecrets(app.org_id, app.id);
    await this.repo.deleteApp(app.id);
    this.deps.events.emit('app-switched', { appId: app.id, deploymentId: null });
    return { deleted: true, id: app.id };
  }

  async logs(auth: AuthContext, appId: string, tail: number): Promise<{ lines: LogLineDto[] }> {
    const app = await this.require(auth, appId);
    const lines: LogLineDto[] = [];
    for (const c of await this.currentContainers(app)) {
      const service = c.labels[LABELS.service] ?? 'app';
      for (const l of await this.deps.docker.logs(c.id, { tail })) lines.push({ service, stream: l.stream, timestamp: l.timestamp, text: l.text });
    }
    lines.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
    return { lines: lines.slice(-tail) };
  }

  async deploymentLogs(auth: AuthContext, appId: string, deploymentId: string) {
    const app = await this.require(auth, appId);
    const d = await this.repo.findDeployment(app.id, deploymentId);
    if (!d) throw new AppError('deployment_not_found', 'No such deployment');
    const rows = await this.repo.deploymentLogs(d.id);
    const lines = rows.map((l) => ({ at: l.at, stream: l.stream, text: l.text }));
    return { deployment: toDeploymentDto(d), lines, lastId: rows.at(-1)?.id ?? 0 };
  }

  async requireDeployment(auth: Pick<AuthContext, 'orgId'>, appId: string, deploymentId: string): Promise<DeploymentsTable> {
    const app = await this.require(auth, appId);
    const d = await this.repo.findDeployment(app.id, deploymentId);
    if (!d) throw new AppError('deployment_not_found', 'No such deployment');
    return d;
  }

  async cancelDeployment(auth: AuthContext, appId: string, deploymentId: string): Promise<DeploymentDto> {
    const app = await this.require(auth, appId);
    const d = await this.repo.findDeployment(app.id, deploymentId);
    assertCancellable(d);
    await this.deps.queue.cancel(d.id);
    return toDeploymentDto((await this.repo.findDeployment(app.id, deploymentId))!);
  }

  /** The containers now serving (or that would serve) the app: those of its current deployment. */
  async currentContainers(app: AppsTable): Promise<ContainerInfo[]> {
    if (!app.current_deployment_id) return [];
    return this.deps.docker.listContainers({ [LABELS.app]: app.id, [LABELS.deployment]: app.current_deployment_id }, { all: true });
  }

  private async route(app: AppsTable, containers: ContainerInfo[]): Promise<void> {
    const spec = JSON.parse(app.spec) as AppSpec;
    for (const d of domainsFor(app.name, spec, this.deps.config.rootDomain)) {
      const c = containers.find((x) => x.labels[LABELS.service] === d.service);
      await this.deps.ingress.setRoute({ domain: d.domain, appId: app.id, targets: c?.hostPort ? [{ host: '127.0.0.1', port: c.hostPort }] : [] });
    }
  }

  toDto(a: AppsTable): AppDto {
    const spec = JSON.parse(a.spec) as AppSpec;
    const domains = new Map(domainsFor(a.name, spec, this.deps.config.rootDomain).map((d) => [d.service, d.domain]));
    return {
      id: a.id,
      name: a.name,
      kind: a.kind,
      status: a.status,
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
        };
      }),
      currentDeploymentId: a.current_deployment_id,
      createdAt: a.created_at,
      updatedAt: a.updated_at,
    };
  }
}

export function toDeploymentDto(d: DeploymentsTable): DeploymentDto {
  return { id: d.id, appId: d.app_id, status: d.status, trigger: d.trigger, commitSha: d.commit_sha, error: d.error, createdAt: d.created_at, startedAt: d.started_at, finishedAt: d.finished_at };
}
