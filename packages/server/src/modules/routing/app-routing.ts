// Serving an app: its routes computed from the runtime's replicas (routesFor) and applied to the ingress, limited to
// the domains the app holds. Every change of what serves an app goes through here under a per-app lock, so an
// event-driven refresh can never interleave with a switch and route the app back to a release it just left.
import type { Config } from '../../config.js';
import type { AppSpec } from '../apps/app-spec.js';
import type { Ingress } from '../ingress/index.js';
import type { AppRuntime } from '../runtime/app-runtime.js';
import { AppLocks } from '../../lib/app-locks.js';
import { applyAppRoutes, removeAppRoutes, routesFor } from './app-routes.js';

export interface ServingState {
  app: { id: string; name: string };
  /** The spec whose domains are routed (the current release's). */
  spec: AppSpec;
  /** The release that should serve, or null when the app should answer 503 (stopped). */
  deploymentId: string | null;
}

export interface AppRoutingDeps {
  ingress: Ingress;
  runtime: AppRuntime;
  config: Pick<Config, 'rootDomain'>;
  /** The domains the app holds (the apps module's domains table): the only ones ever routed to it. */
  ownedDomains(appId: string): Promise<Set<string>>;
  /** What should serve the app now, read fresh (undefined: nothing has ever served it, so it has no routes). */
  servingState(appId: string): Promise<ServingState | undefined>;
}

export class AppRouting {
  private readonly locks = new AppLocks();

  constructor(private readonly d: AppRoutingDeps) {}

  /** Routes the app as its stored state says, to the replicas that are healthy right now. */
  refresh(appId: string): Promise<void> {
    return this.locks.run(appId, async () => {
      const s = await this.d.servingState(appId);
      if (!s) await removeAppRoutes(this.d.ingress, appId);
      else await this.apply(s);
    });
  }

  /**
   * Routes the app to `deploymentId` (null: 503) and, before anyone can refresh it, records that as its state with
   * `commit` (the deployments module's switched/stopped).
   */
  switchTo(s: ServingState, commit: () => Promise<void>): Promise<void> {
    return this.locks.run(s.app.id, async () => {
      await this.apply(s);
      await commit();
    });
  }

  remove(appId: string): Promise<void> {
    return this.locks.run(appId, () => removeAppRoutes(this.d.ingress, appId));
  }

  private async apply(s: ServingState): Promise<void> {
    // An engine that does not answer serves nothing we can vouch for: 503 until it is back, never a stale port.
    const replicas = s.deploymentId ? await this.d.runtime.replicas(s.app.id, s.deploymentId).catch(() => []) : [];
    const routes = routesFor(s.app, s.spec, this.d.config.rootDomain, s.deploymentId ? { deploymentId: s.deploymentId, replicas } : null);
    await applyAppRoutes(this.d.ingress, s.app.id, routes, await this.d.ownedDomains(s.app.id));
  }
}
