// Builds every service from the one Deps object, once, in dependency order: the owner of deployment state first,
// then what routes and runs releases, the worker and the reconciler, then the services routers call. Nothing is
// patched after construction; work that waits for something (an unseal, a queued job) subscribes to its event.
import type { Deps } from './deps.js';
import { AppLocks } from './lib/app-locks.js';
import { AppsRepo } from './modules/apps/apps.repo.js';
import { AppsService } from './modules/apps/apps.service.js';
import type { AppSpec } from './modules/apps/app-spec.js';
import { AuditService } from './modules/audit/audit.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import { OrgsService } from './modules/orgs/orgs.service.js';
import { TokensService } from './modules/tokens/tokens.service.js';
import { DeployService } from './modules/deploy/deploy.service.js';
import { DeploymentsService } from './modules/deployments/deployments.service.js';
import { Maintenance } from './modules/maintenance/maintenance.js';
import { NodesService } from './modules/admin/nodes.service.js';
import { Reconciler, type ReconcilerOptions } from './modules/reconcile/reconciler.js';
import { AppRouting, type ServingState } from './modules/routing/app-routing.js';
import { SecretsService } from './modules/secrets/secrets.service.js';
import { StatsService } from './modules/stats/stats.service.js';
import { ReencryptJob } from './modules/vault/reencrypt-job.js';
import { VaultService } from './modules/vault/vault.service.js';
import { WebhooksService } from './modules/webhooks/webhooks.service.js';
import { DEFAULT_TIMEOUTS, DeployPipeline, type PipelineTimeouts } from './modules/worker/deploy-pipeline.js';
import { DeploymentWorker, type WorkerOptions } from './modules/worker/deployment-worker.js';
import { ReleaseBuilder } from './modules/worker/release-builder.js';
import { FairSemaphore } from './modules/worker/fair-semaphore.js';

export interface ServicesOptions {
  worker?: WorkerOptions & {
    timeouts?: Partial<PipelineTimeouts>;
    /** Image builds running at once across the worker (clone + docker build are heavy); default 1. */
    buildConcurrency?: number;
  };
  reconciler?: ReconcilerOptions;
}

export interface Services {
  /** Orgs, memberships and invitations. */
  orgs: OrgsService;
  /** API tokens (CI and scripts). */
  tokens: TokensService;
  auth: AuthService;
  /** The org audit trail and the operators' log. */
  audit: AuditService;
  vault: VaultService;
  secrets: SecretsService;
  deployments: DeploymentsService;
  routing: AppRouting;
  worker: DeploymentWorker;
  reconciler: Reconciler;
  deploy: DeployService;
  apps: AppsService;
  /** GET /apps/{id}/stats: the runtime's readings, cached per app. */
  stats: StatsService;
  /** GET /admin/nodes: the runtime's machines. */
  nodes: NodesService;
  webhooks: WebhooksService;
  /** Background re-encryption onto the active data-key term (after rotations and unseals). */
  reencrypt: ReencryptJob;
  /** Started and stopped by the runtime: daily housekeeping (webhook delivery pruning, re-encryption kicks). */
  maintenance: Maintenance;
}

export function createServices(deps: Deps, opts: ServicesOptions = {}): Services {
  const appsRepo = new AppsRepo(deps.db);
  const audit = new AuditService(deps);
  const orgs = new OrgsService(deps);
  const tokens = new TokensService({ deps, orgs, appInOrg: async (orgId, appId) => !!(await appsRepo.findForOrg(orgId, appId)) });
  const auth = new AuthService(deps, { orgs, tokens });
  const vault = new VaultService(deps);
  const secrets = new SecretsService(deps, vault, { belongsToOrg: async (orgId, appId) => !!(await appsRepo.findForOrg(orgId, appId)) });
  const deployments = new DeploymentsService(deps);
  const routing = new AppRouting({
    ingress: deps.ingress,
    runtime: deps.runtime,
    config: deps.config,
    ownedDomains: (appId) => appsRepo.ownedDomains(appId),
    servingState: async (appId): Promise<ServingState | undefined> => {
      const app = await deployments.repo.app(appId);
      if (!app?.current_deployment_id) return undefined;
      const release = await deployments.repo.byId(app.current_deployment_id);
      const spec = JSON.parse(release?.spec ?? app.spec) as AppSpec;
      return { app, spec, deploymentId: app.desired_state === 'stopped' ? null : app.current_deployment_id };
    },
  });
  const locks = new AppLocks();
  const releases = new ReleaseBuilder(vault, secrets);
  const pipeline = new DeployPipeline({
    config: deps.config,
    log: deps.log,
    events: deps.events,
    runtime: deps.runtime,
    routing,
    deployments,
    releases,
    vault,
    buildSlots: new FairSemaphore(opts.worker?.buildConcurrency ?? 1),
    timeouts: { ...DEFAULT_TIMEOUTS, ...opts.worker?.timeouts },
  });
  const worker = new DeploymentWorker({ events: deps.events, log: deps.log, deployments, pipeline, runtime: deps.runtime, locks, vault }, opts.worker);
  const reconciler = new Reconciler({ config: deps.config, log: deps.log, events: deps.events, deployments, runtime: deps.runtime, routing, releases, vault, locks }, opts.reconciler);
  const deploy = new DeployService(deps, vault, secrets, deployments);
  const reencrypt = new ReencryptJob(deps);
  const apps = new AppsService({ deps, vault, secrets, deploy, deployments, runtime: deps.runtime, routing, worker });
  return {
    orgs,
    tokens,
    auth,
    audit,
    vault,
    secrets,
    deployments,
    routing,
    worker,
    reconciler,
    deploy,
    apps,
    stats: new StatsService({ deps, apps, deployments, runtime: deps.runtime }),
    nodes: new NodesService({ runtime: deps.runtime }),
    webhooks: new WebhooksService(deps, vault, deploy, audit),
    reencrypt,
    maintenance: new Maintenance(deps, reencrypt, { orgs, tokens }),
  };
}
