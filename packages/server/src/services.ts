// Builds every service from the one Deps object. Routers reach services only through the tRPC context.
import type { Deps } from './deps.js';
import { AppsService } from './modules/apps/apps.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import { DeployService } from './modules/deploy/deploy.service.js';
import { AppsRepo } from './modules/apps/apps.repo.js';
import { SecretsService } from './modules/secrets/secrets.service.js';
import { VaultService } from './modules/vault/vault.service.js';
import { ReencryptJob } from './modules/vault/reencrypt-job.js';
import { Maintenance } from './modules/maintenance/maintenance.js';
import { WebhooksService } from './modules/webhooks/webhooks.service.js';

export interface Services {
  auth: AuthService;
  vault: VaultService;
  secrets: SecretsService;
  deploy: DeployService;
  apps: AppsService;
  webhooks: WebhooksService;
  /** Background re-encryption onto the active data-key term (after rotations and unseals). */
  reencrypt: ReencryptJob;
  /** Started and stopped by the runtime: daily housekeeping (webhook delivery pruning, re-encryption kicks). */
  maintenance: Maintenance;
}

export function createServices(deps: Deps): Services {
  const vault = new VaultService(deps);
  const secrets = new SecretsService(deps, vault, appLookup(new AppsRepo(deps.db)));
  const deploy = new DeployService(deps, vault, secrets);
  const reencrypt = new ReencryptJob(deps);
  const apps = new AppsService(deps, vault, secrets, deploy);
  // Once the keys are back: finish a re-encryption a seal or restart cut short (a no-op with one term), and hand
  // running apps' secret files back to the engine driver (it lost them if the server restarted).
  vault.afterUnseal.push(
    () => void reencrypt.kick('unseal'),
    () => void apps.rearmSecretFiles(),
  );
  return {
    auth: new AuthService(deps),
    vault,
    secrets,
    deploy,
    apps,
    webhooks: new WebhooksService(deps, vault, deploy),
    reencrypt,
    maintenance: new Maintenance(deps, reencrypt),
  };
}

function appLookup(repo: AppsRepo) {
  return { belongsToOrg: async (orgId: string, appId: string) => !!(await repo.findForOrg(orgId, appId)) };
}
