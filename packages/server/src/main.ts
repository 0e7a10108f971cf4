// The entry point: the only place the dependency object is built.
import { createVault } from '@cynchro/vault';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/open-database.js';
import type { Deps } from './deps.js';
import { buildServer } from './http/build-server.js';
import { systemClock } from './lib/clock.js';
import { AccessTokenSigner } from './modules/auth/access-token.js';
import { PasswordHasher } from './modules/auth/password-hasher.js';
import { VaultKeyringStorage } from './modules/vault/vault.repo.js';
import { createServices } from './services.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const log = pino({ level: config.logLevel });
  const db = await openDatabase(config.dataDir);
  // Starts sealed: the master key exists only in memory, after an operator's /admin/unseal.
  const vault = createVault({ storage: new VaultKeyringStorage(db), onBackgroundError: (err) => log.warn({ err }, 'vault background task failed') });
  const deps: Deps = { db, config, clock: systemClock, log, tokens: AccessTokenSigner.fromDataDir(config.dataDir), passwords: new PasswordHasher(), vault };
  const services = createServices(deps);
  const app = await buildServer(deps, services);
  await app.listen({ port: config.port, host: config.host });
  log.info({ api: `http://${config.host}:${config.port}`, dataDir: config.dataDir, ingress: config.ingress }, 'cynchro started');

  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await app.close();
    await vault.seal(); // wipes the keys and writes exact encryption counts before the database closes
    await db.destroy();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

void main();
