// The entry point: configuration from the environment, then the composition root.
import { ConfigError, loadConfig } from './config.js';
import { createRuntime } from './runtime.js';

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
  const rt = await createRuntime(config);
  const log = rt.deps.log;
  try {
    await rt.start();
  } catch (e) {
    log.fatal({ err: e }, 'could not start (is the Docker engine running? is the ingress port free?)');
    process.exit(1);
  }
  await rt.app.listen({ port: config.port, host: config.host });
  log.info({ api: `http://${config.host}:${config.port}`, dataDir: config.dataDir, ingress: config.ingress, appUrls: rt.deps.ingress.urlFor(`example.${config.rootDomain}`).replace("example.", "<app>.") }, 'cynchro started');
  // The path only, never the token: an ADMIN_EMAILS account claims operator rights with its content.
  if (config.adminEmails.length) log.info({ operatorToken: rt.services.auth.operators.tokenPath }, 'operators claim their rights with POST /admin/claim and the token in this file');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await rt.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

void main();
