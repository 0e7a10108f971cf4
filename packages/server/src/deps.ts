// The one dependency object services receive. It is built only in the entry point (main.ts) or a test harness:
// no module keeps a singleton.
import type { DockerDriver } from '@cynchro/docker-driver';
import type { Vault } from '@cynchro/vault';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './db/open-database.js';
import type { AppEvents } from './lib/app-events.js';
import type { Clock } from './lib/clock.js';
import type { AccessTokenSigner } from './modules/auth/access-token.js';
import type { PasswordHasher } from './modules/auth/password-hasher.js';
import type { Ingress } from './modules/ingress/index.js';
import type { AppRuntime } from './modules/runtime/app-runtime.js';

export interface Deps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
  tokens: AccessTokenSigner;
  passwords: PasswordHasher;
  /** In memory only: a (re)started server is sealed until an operator unseals it. */
  vault: Vault;
  /** Where apps run (one Docker engine today): the only way to the engine for services. */
  runtime: AppRuntime;
  ingress: Ingress;
  events: AppEvents;
  /** The git remotes apps build from, asked without building (`git ls-remote` through the driver). */
  git: Pick<DockerDriver, 'remoteHead'>;
}
