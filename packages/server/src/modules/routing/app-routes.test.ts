import { describe, expect, it } from 'vitest';
import type { Ingress, IngressRoute } from '../ingress/index.js';
import type { AppSpec, ServiceSpec } from '../apps/app-spec.js';
import type { Replica } from '../runtime/app-runtime.js';
import { applyAppRoutes, routesFor } from './app-routes.js';

const svc = (name: string, port?: number, domain?: string): ServiceSpec => ({ name, ...(port ? { port } : {}), ...(domain ? { domain } : {}), env: {}, envFrom: [], secretFiles: [], cpu: 0.25, memory: 64, volumes: [], dependsOn: [] });
const spec = (...services: ServiceSpec[]): AppSpec => ({ kind: 'services', env: {}, envFrom: [], secretFiles: [], services });
const replica = (o: Partial<Replica>): Replica => ({ id: 'c', appId: 'app_1', deploymentId: 'dep_2', service: 'web', index: 0, state: 'running', running: true, healthy: true, endpoint: { host: '127.0.0.1', port: 1000 }, createdAt: '', ...o });

describe('routesFor', () => {
  it("routes each routed service's domain to the healthy replicas of the serving release only", () => {
    const replicas = [
      replica({ id: 'a', index: 1, endpoint: { host: '127.0.0.1', port: 1001 } }),
      replica({ id: 'b', index: 0, endpoint: { host: '127.0.0.1', port: 1000 } }),
      replica({ id: 'c', index: 2, healthy: false, endpoint: { host: '127.0.0.1', port: 1002 } }),
      replica({ id: 'd', deploymentId: 'dep_1', endpoint: { host: '127.0.0.1', port: 999 } }),
      replica({ id: 'e', service: 'api', endpoint: { host: '127.0.0.1', port: 2000 } }),
    ];
    const routes = routesFor({ id: 'app_1', name: 'shop' }, spec(svc('web', 80), svc('api', 80), svc('db')), 'apps.test', { deploymentId: 'dep_2', replicas });
    expect(routes).toEqual([
      { domain: 'shop.apps.test', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 1000 }, { host: '127.0.0.1', port: 1001 }] },
      { domain: 'api-shop.apps.test', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 2000 }] },
    ]);
  });
  it('routes to nothing (503) when the app should not serve', () => {
    expect(routesFor({ id: 'app_1', name: 'shop' }, spec(svc('web', 80, 'shop.example.com')), 'apps.test', null)).toEqual([{ domain: 'shop.example.com', appId: 'app_1', targets: [] }]);
  });
});

function memoryIngress(initial: IngressRoute[]): Ingress & { sets: string[] } {
  const table = new Map(initial.map((r) => [r.domain, r]));
  const sets: string[] = [];
  return {
    kind: 'embedded',
    sets,
    start: async () => {},
    stop: async () => {},
    setRoute: async (r) => void (sets.push(r.domain), table.set(r.domain, r)),
    removeRoute: async (d) => void table.delete(d),
    replaceAll: async () => {},
    routes: () => [...table.values()],
    urlFor: (d) => d,
  };
}

describe('applyAppRoutes', () => {
  it("unroutes domains that left the app's spec, never touches another app's, never sets a domain the app does not hold", async () => {
    const ingress = memoryIngress([
      { domain: 'old.example.com', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 1 }] },
      { domain: 'keep.example.com', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 1 }] },
      { domain: 'theirs.example.com', appId: 'app_2', targets: [{ host: '127.0.0.1', port: 9 }] },
    ]);
    const wanted = [
      { domain: 'keep.example.com', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 1 }] },
      { domain: 'new.example.com', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 2 }] },
      { domain: 'theirs.example.com', appId: 'app_1', targets: [{ host: '127.0.0.1', port: 2 }] },
    ];
    await applyAppRoutes(ingress, 'app_1', wanted, new Set(['keep.example.com', 'new.example.com']));
    expect(ingress.routes().map((r) => `${r.domain}→${r.appId}:${r.targets.map((t) => t.port).join(',')}`).sort()).toEqual(['keep.example.com→app_1:1', 'new.example.com→app_1:2', 'theirs.example.com→app_2:9']);
    // An unchanged route is not set again (no needless ingress reloads).
    expect(ingress.sets).toEqual(['new.example.com']);
  });
});
