// On start the control plane makes Docker and the ingress agree with the database again: deployments cut off by
// a restart end `failed` (`interrupted`) and lose their half-started containers, containers of deleted apps or of
// superseded deployments go, and every route is rebuilt from what actually runs.
import { LABELS } from '@cynchro/docker-driver';
import type { Deps } from '../../deps.js';
import type { IngressRoute } from '../ingress/index.js';
import { domainsFor, type AppSpec } from '../apps/app-spec.js';
import type { AppsRepo } from '../apps/apps.repo.js';

type ReconcileDeps = Pick<Deps, 'docker' | 'ingress' | 'config' | 'clock' | 'log' | 'events'> & { repo: AppsRepo };

export async function reconcile(deps: ReconcileDeps): Promise<{ interrupted: number; removed: number; routes: number }> {
  const { repo, docker, log } = deps;
  const now = deps.clock.now().toISOString();

  let interrupted = 0;
  for (const d of await repo.activeDeployments()) {
    // Cut off after its switch: it is the app's current version and serves, so it did succeed.
    const owner = await repo.findById(d.app_id);
    if (owner?.current_deployment_id === d.id) {
      await repo.transition(d.id, 'succeeded', { finished_at: now });
      continue;
    }
    if (await repo.transition(d.id, 'failed', { error: 'interrupted', finished_at: now })) {
      interrupted++;
      await repo.appendLog(d.id, now, 'error', 'interrupted: the control plane restarted during this deployment').catch(() => {});
      deps.events.emit('deployment-status', { deploymentId: d.id, appId: d.app_id, status: 'failed' });
    }
  }

  const apps = new Map((await repo.listAll()).map((a) => [a.id, a]));
  // Only what this control plane created is its to remove: things of orgs it does not know belong to another
  // control plane on the same engine (or to a database that was replaced), and are left alone.
  const orgs = new Set(await repo.orgIds());
  const ours = (labels: Record<string, string>) => orgs.has(labels[LABELS.org] ?? '');
  let removed = 0;
  const managed = (await docker.listContainers({ [LABELS.managed]: 'true' }, { all: true })).filter((c) => ours(c.labels));
  for (const c of managed) {
    const app = apps.get(c.labels[LABELS.app] ?? '');
    if (!app || c.labels[LABELS.deployment] !== app.current_deployment_id) {
      await docker.removeContainer(c.id).catch((err) => log.warn({ err, id: c.id }, 'reconcile: could not remove a container'));
      removed++;
    }
  }
  // Networks and volumes of apps that no longer exist.
  const orphanApps = new Set<string>();
  for (const n of await docker.listNetworks({ [LABELS.managed]: 'true' })) {
    if (!ours(n.labels)) continue;
    const id = n.labels[LABELS.app];
    if (id && !apps.has(id)) orphanApps.add(id);
  }
  for (const id of orphanApps) await docker.removeByLabels({ [LABELS.app]: id }, { volumes: true, images: true }).catch(() => {});

  const routes: IngressRoute[] = [];
  const running = await docker.listContainers({ [LABELS.managed]: 'true' }, { all: true });
  for (const app of apps.values()) {
    if (app.status === 'failed' && !app.current_deployment_id) continue;
    const spec = JSON.parse(app.spec) as AppSpec;
    for (const d of domainsFor(app.name, spec, deps.config.rootDomain)) {
      const c = running.find((x) => x.labels[LABELS.app] === app.id && x.labels[LABELS.service] === d.service && x.labels[LABELS.deployment] === app.current_deployment_id);
      const serving = app.status !== 'stopped' && c?.running && c.hostPort;
      routes.push({ domain: d.domain, appId: app.id, targets: serving ? [{ host: '127.0.0.1', port: c!.hostPort! }] : [] });
    }
    // An app whose deployment was interrupted before it ever served has nothing to show.
    if (app.status === 'deploying') await repo.setStatus(app.id, app.current_deployment_id ? 'running' : 'failed', now);
  }
  await deps.ingress.replaceAll(routes);
  log.info({ interrupted, removed, routes: routes.length }, 'reconciled');
  return { interrupted, removed, routes: routes.length };
}
