// The one place an app's routes are computed and applied. Everything that changes what serves an app (the switch
// of a deployment, a stop, a replica that died or came back, a resync after an engine restart) calls these.
import type { Ingress, IngressRoute } from '../ingress/index.js';
import { domainsFor, type AppSpec } from '../apps/app-spec.js';
import type { Replica } from '../runtime/app-runtime.js';

/**
 * The routes of an app serving `spec` (its current release's) from `replicas`: each routed service's domain to the
 * healthy replicas of that release, or to none (the ingress answers 503) when it should not or cannot serve.
 */
export function routesFor(app: { id: string; name: string }, spec: AppSpec, rootDomain: string, serving: { deploymentId: string; replicas: Replica[] } | null): IngressRoute[] {
  return domainsFor(app.name, spec, rootDomain).map((d) => ({
    domain: d.domain,
    appId: app.id,
    targets: serving
      ? serving.replicas
          .filter((r) => r.deploymentId === serving.deploymentId && r.service === d.service && r.healthy && r.endpoint)
          .sort((a, b) => a.index - b.index)
          .map((r) => ({ ...r.endpoint! }))
      : [],
  }));
}

/**
 * Makes the ingress serve exactly `routes` for the app, limited to the domains it holds (`owned`, from the domains
 * table): each is set, and any route the app had for a domain that left its spec is removed. A domain the app no
 * longer holds may be another app's by now, and is never set for this one.
 */
export async function applyAppRoutes(ingress: Ingress, appId: string, routes: IngressRoute[], owned: Set<string>): Promise<void> {
  const mine = routes.filter((r) => owned.has(r.domain.toLowerCase()));
  const wanted = new Set(mine.map((r) => r.domain.toLowerCase()));
  const current = ingress.routes();
  for (const r of mine) {
    const before = current.find((c) => c.domain === r.domain.toLowerCase());
    if (before && before.appId === r.appId && sameTargets(before, r)) continue;
    await ingress.setRoute(r);
  }
  for (const r of current) if (r.appId === appId && !wanted.has(r.domain)) await ingress.removeRoute(r.domain);
}

export async function removeAppRoutes(ingress: Ingress, appId: string): Promise<void> {
  for (const r of ingress.routes()) if (r.appId === appId) await ingress.removeRoute(r.domain);
}

function sameTargets(a: IngressRoute, b: IngressRoute): boolean {
  const key = (r: IngressRoute) => r.targets.map((t) => `${t.host}:${t.port}`).sort().join(',');
  return key(a) === key(b);
}
