// Builds a real server (real SQLite file in a temp DATA_DIR, real Fastify, real embedded ingress on a free port,
// in this process unless a test passes INGRESS_PROCESS=separate) through the same composition root as main.ts. The Docker engine is the in-memory fake unless a test passes the
// real driver.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createFakeDockerDriver, type DockerDriver, type SwarmDriver } from '@cynchro/docker-driver';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../src/config.js';
import type { Deps } from '../src/deps.js';
import type { Clock } from '../src/lib/clock.js';
import type { Ingress } from '../src/modules/ingress/index.js';
import type { DeploymentWorker } from '../src/modules/worker/deployment-worker.js';
import { createRuntime, type RuntimeOptions } from '../src/runtime.js';
import type { Services, ServicesOptions } from '../src/services.js';
import { freePort } from './free-port.js';

export class TestClock implements Clock {
  offsetMs = 0;
  /** Set by freeze(): the clock stands there (plus what advance() adds) instead of following Date.now(). */
  private frozenAt: number | undefined;
  now(): Date {
    return new Date((this.frozenAt ?? Date.now()) + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
  /** Stops the clock until thaw(), for assertions on exact durations; only advance() moves it meanwhile. */
  freeze(): void {
    this.frozenAt = Date.now();
  }
  /** Follows Date.now() again (plus what advance() added): it jumps over the time it stood still, never back. */
  thaw(): void {
    this.frozenAt = undefined;
  }
}

export interface Harness {
  app: FastifyInstance;
  deps: Deps;
  services: Services;
  worker: DeploymentWorker;
  clock: TestClock;
  dataDir: string;
  config: Config;
  /** `keepIngress`: leave an ingress process (INGRESS_PROCESS=separate) serving, as a control-plane restart does. */
  close(opts?: { keepIngress?: boolean }): Promise<void>;
}

export interface HarnessOptions {
  dataDir?: string;
  log?: Logger;
  docker?: DockerDriver;
  /** RUNTIME=swarm: the manager's Swarm API. */
  swarm?: SwarmDriver;
  ingress?: Ingress;
  worker?: ServicesOptions['worker'];
  reconciler?: ServicesOptions['reconciler'];
  runtime?: RuntimeOptions['runtime'];
  /** Start the ingress and worker (reconcile first), as main.ts does. Default true. */
  start?: boolean;
}

export { freePort };

export async function startHarness(env: Record<string, string> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-test-'));
  // In-process ingress unless a test asks for the separate process: hundreds of fake-engine tests spawn nothing.
  const config: Config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INGRESS_PORT: String(await freePort()), INGRESS_PROCESS: 'inprocess', ...env });
  const clock = new TestClock();
  const rt = await createRuntime(config, {
    clock,
    log: opts.log ?? pino({ level: 'silent' }),
    docker: opts.docker ?? createFakeDockerDriver(),
    ...(opts.ingress ? { ingress: opts.ingress } : {}),
    ...(opts.swarm ? { swarm: opts.swarm } : {}),
    worker: { pollMs: 100, ...opts.worker },
    ...(opts.reconciler ? { reconciler: opts.reconciler } : {}),
    ...(opts.runtime ? { runtime: opts.runtime } : {}),
  });
  if (opts.start !== false) await rt.start();
  await rt.app.ready();
  return { app: rt.app, deps: rt.deps, services: rt.services, worker: rt.services.worker, clock, dataDir, config, close: (o) => rt.close(o) };
}

let seq = 0;
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${process.pid}-${Date.now()}-${++seq}@example.com`;
}
