// The composition root: builds the one Deps object and every service (in dependency order), the worker, the
// reconciler and the HTTP server. main.ts and the test harness both call it, so tests run the very wiring
// production runs (with a fake engine if they ask).
import { createDockerodeDriver, createSwarmDriver, type DockerDriver, type SwarmDriver } from '@cynchro/docker-driver';
import { createVault } from '@cynchro/vault';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase } from './db/open-database.js';
import type { Deps } from './deps.js';
import { buildServer, type BuildServerOptions } from './http/build-server.js';
import { AppEvents } from './lib/app-events.js';
import { systemClock, type Clock } from './lib/clock.js';
import { AccessTokenSigner } from './modules/auth/access-token.js';
import { PasswordHasher } from './modules/auth/password-hasher.js';
import { describeFirewall, ensureMetadataFirewall } from './modules/host/metadata-firewall.js';
import { AppsRepo } from './modules/apps/apps.repo.js';
import { caddyFrontFromConfig } from './modules/ingress/caddy-front.js';
import { createIngress, type Ingress } from './modules/ingress/index.js';
import { createTlsAskServer } from './modules/ingress/tls-ask-server.js';
import { Metrics } from './modules/metrics/metrics.js';
import type { AppRuntime } from './modules/runtime/app-runtime.js';
import { DockerRuntime, type DockerRuntimeOptions } from './modules/runtime/docker-runtime.js';
import { SwarmRuntime } from './modules/runtime/swarm-runtime.js';
import { VaultKeyringStorage } from './modules/vault/vault.repo.js';
import { createServices, type Services, type ServicesOptions } from './services.js';

export interface RuntimeOptions extends ServicesOptions {
  clock?: Clock;
  log?: Logger;
  docker?: DockerDriver;
  /** RUNTIME=swarm: the manager's Swarm API (default: through DOCKER_HOST, as the driver). */
  swarm?: SwarmDriver;
  ingress?: Ingress;
  runtime?: Partial<Omit<DockerRuntimeOptions, 'docker' | 'events' | 'log'>>;
  /** Install the DOCKER-USER rule against the metadata range (default: when it drives the local engine itself). */
  metadataFirewall?: boolean;
  server?: BuildServerOptions;
}

export interface Runtime {
  app: FastifyInstance;
  deps: Deps;
  services: Services;
  /**
   * Follows the engine, restores desired state and rebuilds every route, then starts the ingress (so it never
   * answers 404 for a running app), the worker and housekeeping. The API server is not listening yet.
   */
  start(): Promise<void>;
  /**
   * Stops everything, the ingress process too (INGRESS_PROCESS=separate) unless `keepIngress`: then it keeps
   * serving the apps for the next control plane to adopt (a restart or an upgrade, main.ts's SIGUSR2).
   */
  close(opts?: { keepIngress?: boolean }): Promise<void>;
}

export async function createRuntime(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
  const log = opts.log ?? pino({ level: config.logLevel });
  const clock = opts.clock ?? systemClock;
  const db = await openDatabase(config.dataDir);
  // Starts sealed: the master key exists only in memory, after an operator's /admin/unseal.
  const vault = createVault({ storage: new VaultKeyringStorage(db, clock), onBackgroundError: (err) => log.warn({ err }, 'vault background task failed') });
  const docker = opts.docker ?? createDockerodeDriver({ gitAllowHosts: config.gitAllowHosts, ...(config.appSubnets ? { subnetPool: config.appSubnets.pool, subnetPrefix: config.appSubnets.prefix } : {}) });
  const ingress = opts.ingress ?? createIngress(config, log);
  const events = new AppEvents();
  const runtime: AppRuntime =
    config.runtime === 'swarm'
      ? new SwarmRuntime({ docker, swarm: opts.swarm ?? createSwarmDriver(), events, log: log.child({ module: 'runtime' }), registry: config.registry!, pollMs: config.swarmPollMs, ...(config.swarmOverlayMtu ? { overlayMtu: config.swarmOverlayMtu } : {}), ...(opts.runtime?.probeTimeoutMs ? { probeTimeoutMs: opts.runtime.probeTimeoutMs } : {}) })
      : new DockerRuntime({ docker, events, log: log.child({ module: 'runtime' }), ...opts.runtime });
  const deps: Deps = { db, config, clock, log, tokens: AccessTokenSigner.fromDataDir(config.dataDir), passwords: new PasswordHasher(), vault, runtime, ingress, events, git: { remoteHead: (o) => docker.remoteHead(o) } };
  const services = createServices(deps, opts);
  // This server's own registry (never prom-client's global one): it counts from the events from here on.
  const metrics = new Metrics({ events, pendingDeployments: () => services.deployments.repo.pendingCounts(), vaultSealed: () => services.vault.sealed });
  const app = await buildServer(deps, services, { ...opts.server, metrics });
  // INGRESS=caddy: Caddy asks here before it gets a certificate; a domain any app holds (claimed at POST /deploy,
  // so also while its first deployment runs) may have one.
  const appsRepo = new AppsRepo(db);
  const tlsAsk = config.ingress === 'caddy'
    ? createTlsAskServer({ port: config.tlsAskPort, holds: async (d) => (await appsRepo.holdersOf([d])).length > 0, log })
    : undefined;
  let started = false;
  return {
    app,
    deps,
    services,
    async start() {
      if (opts.metadataFirewall ?? !opts.docker) {
        const fw = await ensureMetadataFirewall();
        log[fw.installed ? 'info' : 'warn']({ metadataFirewall: fw.installed }, describeFirewall(fw));
      }
      await runtime.start();
      await services.reconciler.start();
      await ingress.start();
      // An ingress process that outlived the last control plane is adopted with its table: the first pass has set
      // every app's routes; a route of an app this database does not have goes.
      const known = new Set((await services.deployments.repo.allApps()).map((a) => a.id));
      for (const r of ingress.routes()) if (!known.has(r.appId)) await ingress.removeRoute(r.domain);
      if (tlsAsk) {
        await tlsAsk.start();
        // Caddy's one static config, written only when Caddy's differs: no reload on a control-plane restart.
        await caddyFrontFromConfig(config, tlsAsk.url, log).ensure();
      }
      services.worker.start();
      services.maintenance.start();
      started = true;
    },
    async close(closeOpts = {}) {
      await app.close();
      await services.maintenance.stop(); // before the vault seals and the database closes
      await services.reconciler.stop();
      await services.worker.stop();
      await runtime.stop();
      if (started) await ingress.stop();
      if (!closeOpts.keepIngress) await ingress.shutdown?.();
      await tlsAsk?.stop();
      await docker.close();
      await vault.seal(); // wipes the keys and writes exact encryption counts before the database closes
      await db.destroy();
      metrics.close();
    },
  };
}
