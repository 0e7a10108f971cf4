// Builds a real server (real SQLite file in a temp DATA_DIR, real Fastify) for tests, the way main.ts does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createVault } from '@cynchro/vault';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../src/config.js';
import { openDatabase } from '../src/db/open-database.js';
import type { Deps } from '../src/deps.js';
import { buildServer } from '../src/http/build-server.js';
import type { Clock } from '../src/lib/clock.js';
import { AccessTokenSigner } from '../src/modules/auth/access-token.js';
import { PasswordHasher } from '../src/modules/auth/password-hasher.js';
import { VaultKeyringStorage } from '../src/modules/vault/vault.repo.js';
import { createServices, type Services } from '../src/services.js';

export class TestClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface Harness {
  app: FastifyInstance;
  deps: Deps;
  services: Services;
  clock: TestClock;
  dataDir: string;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}, opts: { dataDir?: string; log?: Logger } = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-test-'));
  const config: Config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  const clock = new TestClock();
  const db = await openDatabase(dataDir);
  const log = opts.log ?? pino({ level: 'silent' });
  const vault = createVault({ storage: new VaultKeyringStorage(db, clock), onBackgroundError: (err) => log.warn({ err }, 'vault background task failed') });
  const deps: Deps = { db, config, clock, log, tokens: AccessTokenSigner.fromDataDir(dataDir), passwords: new PasswordHasher(), vault };
  const services = createServices(deps);
  const app = await buildServer(deps, services);
  await app.ready();
  return {
    app, deps, services, clock, dataDir,
    async close() {
      await app.close();
      await vault.seal();
      await db.destroy();
    },
  };
}

let seq = 0;
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${process.pid}-${Date.now()}-${++seq}@example.com`;
}
