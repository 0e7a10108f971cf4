// Builds every service from the one Deps object. Routers reach services only through the tRPC context.
import type { Deps } from './deps.js';
import { AuthService } from './modules/auth/auth.service.js';
import { sqliteAppLookup } from './modules/secrets/app-lookup.js';
import { SecretsService } from './modules/secrets/secrets.service.js';
import { VaultService } from './modules/vault/vault.service.js';

export interface Services {
  auth: AuthService;
  vault: VaultService;
  secrets: SecretsService;
}

export function createServices(deps: Deps): Services {
  const vault = new VaultService(deps);
  return {
    auth: new AuthService(deps),
    vault,
    secrets: new SecretsService(deps, vault, sqliteAppLookup(deps.db)),
  };
}
