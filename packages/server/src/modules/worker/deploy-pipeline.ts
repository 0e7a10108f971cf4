// One deployment, start to finish: (build) → materialise env and secret files → start the new containers →
// health check → switch the ingress → stop and remove the old ones. Nothing serving is touched before the switch,
// so any failure up to it leaves the previous version in place.
import type { ContainerInfo, DockerDriver, Labels } from '@cynchro/docker-driver';
import { LABELS } from '@cynchro/docker-driver';
import type { Deps } from '../../deps.js';
import { startOrder, type AppSpec, type ServiceSpec } from '../apps/app-spec.js';
import type { AppsRepo } from '../apps/apps.repo.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import { domainsFor } from '../apps/app-spec.js';
import { envAad, repoTokenAad } from '../deploy/deploy.service.js';
import type { SecretsService } from '../secrets/secrets.service.js';
import type { VaultService } from '../vault/vault.service.js';
import type { Semaphore } from './semaphore.js';
import { step } from './step-timeout.js';

export interface PipelineTimeouts {
  buildMs: number;
  pullMs: number;
  startMs: number;
  healthMs: number;
  switchMs: number;
  /** After the switch, old containers get this long to finish requests already routed to them. */
  drainMs: number;
}

export const DEFAULT_TIMEOUTS: PipelineTimeouts = { buildMs: 20 * 60_000, pullMs: 5 * 60_000, startMs: 60_000, healthMs: 90_000, switchMs: 30_000, drainMs: 2_000 };

export interface PipelineContext {
  deps: Pick<Deps, 'docker' | 'ingress' | 'config' | 'clock' | 'events' | 'log'>;
  repo: AppsRepo;
  vault: VaultService;
  secrets: SecretsService;
  timeouts: PipelineTimeouts;
  app: AppsTable;
  deployment: DeploymentsTable;
  signal: AbortSignal;
  log(stream: string, text: string): Promise<void>;
  /** Bounds concurrent builds across the worker; a deployment holds one slot for its whole build phase. */
  buildSlots?: Semaphore;
}

/** Built images kept per app after a successful deployment: this many deployments' worth (rollback material). */
export const KEEP_BUILDS = 3;

export function appLabels(app: { id: string; org_id: string }): Labels {
  return { [LABELS.managed]: 'true', [LABELS.org]: app.org_id, [LABELS.app]: app.id };
}

export function networkName(appId: string): string {
  return `cynchro-${appId}`;
}

export function volumeName(appId: string, name: string): string {
  return `cynchro-${appId}-${name}`;
}

export function builtImageTag(appId: string, deploymentId: string, service: string): string {
  return `cynchro/${appId.replace(/_/g, '-')}:${deploymentId.replace(/_/g, '-')}-${service}`;
}

export async function runPipeline(ctx: PipelineContext): Promise<void> {
  const { app, deployment, deps } = ctx;
  const spec = JSON.parse(deployment.spec) as AppSpec;
  const docker: DockerDriver = deps.docker;
  const images = new Map<string, string>();

  // 1. Images: build what the repo provides, make sure the others are present.
  const toBuild = spec.services.filter((s) => s.build);
  if (toBuild.length) {
    if (!spec.repo) throw new Error('services to build but no repo');
    const token = spec.repo.token ? ctx.vault.decrypt(repoTokenAad(app.org_id, app.id), spec.repo.token) : undefined;
    if (ctx.buildSlots?.busy) await ctx.log('system', `waiting for a build slot (${ctx.buildSlots.inUse} build(s) running)`);
    const release = ctx.buildSlots ? await ctx.buildSlots.acquire(ctx.signal) : () => {};
    // Every service builds the same commit: the pushed one, else whatever the first clone found at the branch head.
    let commit = deployment.commit_sha;
    try {
      for (const svc of toBuild) {
        await ctx.log('system', `building ${svc.name} from ${spec.repo.url}#${spec.repo.branch} (${svc.build!.dockerfile})`);
        const tag = builtImageTag(app.id, deployment.id, svc.name);
        const built = await step(`build of ${svc.name}`, ctx.timeouts.buildMs, ctx.signal, (signal) =>
          docker.buildFromGit({
            repoUrl: spec.repo!.url,
            branch: spec.repo!.branch,
            ...(commit ? { commit } : {}),
            dockerfile: svc.build!.dockerfile,
            context: svc.build!.context,
            ...(token ? { token } : {}),
            tag,
            labels: { ...appLabels(app), [LABELS.deployment]: deployment.id, [LABELS.service]: svc.name },
            allowHosts: deps.config.gitAllowHosts,
            onLine: (l) => void ctx.log('build', l),
            signal,
            timeoutMs: ctx.timeouts.buildMs,
          }),
        );
        images.set(svc.name, built.tag);
        commit = built.commitSha;
        await ctx.repo.transition(deployment.id, 'building', { commit_sha: built.commitSha }, ['building']);
        await ctx.log('system', `built ${built.tag} at commit ${built.commitSha}`);
      }
    } finally {
      release();
    }
  }
  await ctx.repo.transition(deployment.id, 'deploying', {}, ['building', 'deploying']);
  for (const svc of spec.services.filter((s) => s.image)) {
    images.set(svc.name, svc.image!);
    if (!(await docker.imageExists(svc.image!))) {
      await ctx.log('system', `pulling ${svc.image}`);
      await step(`pull of ${svc.image}`, ctx.timeouts.pullMs, ctx.signal, (signal) => docker.pullImage(svc.image!, { signal, onLine: (l) => void ctx.log('pull', l) }));
    }
  }

  // 2. Env and secret files, decrypted only now and only in memory.
  const material = await materialise(ctx.vault, ctx.secrets, app, spec);
  await ctx.log('system', `materialised env for ${material.size} service(s)`);

  // 3-4. New containers, in dependsOn order, each healthy before its dependants start.
  const network = await docker.ensureNetwork(networkName(app.id), appLabels(app));
  const started = new Map<string, ContainerInfo>();
  for (const wave of startOrder(spec.services)) {
    await Promise.all(
      wave.map(async (svc) => {
        const m = material.get(svc.name)!;
        await ctx.log('system', `starting ${svc.name} (${images.get(svc.name)})`);
        const info = await step(`start of ${svc.name}`, ctx.timeouts.startMs, ctx.signal, () =>
          docker.runContainer({
            name: `cynchro-${app.id}-${svc.name}-${deployment.id.slice(-8)}`,
            image: images.get(svc.name)!,
            ...(svc.command ? { command: svc.command } : {}),
            env: m.env,
            ...(svc.port !== undefined ? { port: svc.port } : {}),
            labels: { ...appLabels(app), [LABELS.deployment]: deployment.id, [LABELS.service]: svc.name },
            cpu: svc.cpu,
            memoryMb: svc.memory,
            network,
            aliases: [svc.name],
            volumes: svc.volumes.map((v) => ({ name: volumeName(app.id, v.name), path: v.path })),
            secretFiles: m.files,
          }),
        );
        started.set(svc.name, info);
        await step(`health check of ${svc.name}`, ctx.timeouts.healthMs + 5_000, ctx.signal, (signal) =>
          docker.waitHealthy(info.id, { ...(svc.port !== undefined ? { port: svc.port, http: true } : {}), ...(svc.healthcheck ? { path: svc.healthcheck.path } : {}), timeoutMs: ctx.timeouts.healthMs, signal }),
        );
        await ctx.log('system', `${svc.name} is healthy`);
      }),
    );
  }

  // 5. The switch: from here on the new version serves.
  if (ctx.signal.aborted) throw new Error('canceled');
  const routes = domainsFor(app.name, spec, deps.config.rootDomain).map((d) => {
    const c = started.get(d.service)!;
    if (!c.hostPort) throw new Error(`${d.service} has no published port`);
    return { domain: d.domain, appId: app.id, targets: [{ host: '127.0.0.1', port: c.hostPort }] };
  });
  await step('ingress switch', ctx.timeouts.switchMs, ctx.signal, async () => {
    for (const r of routes) await deps.ingress.setRoute(r);
  });
  await ctx.log('system', `traffic switched to ${deployment.id}`);
}

/**
 * After a successful deployment: removes the app's built images beyond the newest KEEP_BUILDS deployments' worth,
 * never this deployment's own (nor, by the driver's rule, any image a container uses). Returns what was removed.
 */
export async function pruneBuiltImages(docker: DockerDriver, appId: string, deploymentId: string, spec: AppSpec): Promise<string[]> {
  const built = spec.services.filter((s) => s.build).map((s) => builtImageTag(appId, deploymentId, s.name));
  const perDeployment = Math.max(1, spec.services.filter((s) => s.build).length);
  return docker.pruneImages({ [LABELS.app]: appId }, KEEP_BUILDS * perDeployment, built);
}

/** Removes every container of the app that is not this deployment's: the old version, once the new one serves. */
export async function removeOtherDeployments(docker: DockerDriver, appId: string, keepDeploymentId: string, drainMs = 0): Promise<number> {
  const all = await docker.listContainers({ [LABELS.app]: appId }, { all: true });
  const old = all.filter((c) => c.labels[LABELS.deployment] !== keepDeploymentId);
  if (old.length && drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
  for (const c of old) {
    await docker.stopContainer(c.id, 10).catch(() => {});
    await docker.removeContainer(c.id);
  }
  return old.length;
}

export async function removeDeploymentContainers(docker: DockerDriver, deploymentId: string): Promise<void> {
  for (const c of await docker.listContainers({ [LABELS.deployment]: deploymentId }, { all: true })) await docker.removeContainer(c.id);
}

export type Material = Map<string, { env: Record<string, string>; files: Record<string, string> }>;

/**
 * Each service's env and secret files, decrypted in memory only: app-wide values first, then the service's own
 * (which win); within a level, inline env wins over envFrom secrets.
 */
export async function materialise(vault: VaultService, secretsService: SecretsService, app: { id: string; org_id: string }, spec: AppSpec): Promise<Material> {
  const names = [...new Set([...spec.envFrom, ...spec.secretFiles, ...spec.services.flatMap((s) => [...s.envFrom, ...s.secretFiles])])];
  const secrets = names.length ? await secretsService.resolveForApp(app.org_id, app.id, names) : {};
  const decryptEnv = (service: string, env: Record<string, string>) =>
    Object.fromEntries(Object.entries(env).map(([k, ct]) => [k, vault.decrypt(envAad(app.org_id, app.id, service, k), ct)]));
  const fromSecrets = (list: string[]) => Object.assign({}, ...list.map((n) => secrets[n] ?? {})) as Record<string, string>;
  const appEnv = { ...fromSecrets(spec.envFrom), ...decryptEnv('', spec.env) };
  const appFiles = fromSecrets(spec.secretFiles);
  const out: Material = new Map();
  for (const svc of spec.services as ServiceSpec[]) {
    out.set(svc.name, {
      env: { ...appEnv, ...fromSecrets(svc.envFrom), ...decryptEnv(svc.name, svc.env) },
      files: { ...appFiles, ...fromSecrets(svc.secretFiles) },
    });
  }
  return out;
}
