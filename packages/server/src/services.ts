// Builds every service from the one Deps object. Routers reach services only through the tRPC context.
import type { Deps } from './deps.js';
import { AuthService } from './modules/auth/auth.service.js';

export interface Services {
  auth: AuthService;
}

export function createServices(deps: Deps): Services {
  return {
    auth: new AuthService(deps),
  };
}
