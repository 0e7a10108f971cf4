// The entry point: the only place the dependency object is built.
import pino from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/open-database.js';
import type { Deps } from './deps.js';
import { buildServer } from './http/build-server.js';
import { systemClock } from './lib/clock.js';
import { AccessTokenSigner } from './modules/auth/access-token.js';
import { PasswordHasher } from './modules/auth/password-hasher.js';
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
  const deps: Deps = { db, config, clock: systemClock, log, tokens: AccessTokenSigner.fromDataDir(config.dataDir), passwords: new PasswordHasher() };
  const services = createServices(deps);
  const app = await buildServer(deps, services);
  await app.listen({ port: config.port, host: config.host });
  log.info({ api: `http://${config.host}:${config.port}`, dataDir: config.dataDir, ingress: config.ingress }, 'cynchro started');

  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await app.close();
    await db.destroy();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

void main();
