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

  // SIGINT/SIGTERM: a stop on purpose ends the ingress process too (INGRESS_PROCESS=separate), once it has exited.
  // SIGUSR2: the control plane alone exits and the ingress keeps serving the apps, for a restart or an upgrade (the
  // next control plane adopts it). A SIGKILL or a crash leaves it serving as well.
  let stopping = false;
  const stop = async (signal: string, ingressToo: boolean) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, ingress: ingressToo ? 'stopping too' : 'left serving' }, 'shutting down');
    let code = 0;
    await rt.close({ keepIngress: !ingressToo }).catch((err: unknown) => {
      log.error({ err }, 'shutdown failed');
      code = 1;
    });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop('SIGINT', true));
  process.once('SIGTERM', () => void stop('SIGTERM', true));
  process.once('SIGUSR2', () => void stop('SIGUSR2', false));
  // Under `pnpm start`'s launcher (scripts/start.mjs), an IPC channel to it: when the launcher dies, the control
  // plane goes too, leaving the ingress serving as on SIGUSR2. Unref'd: the channel alone keeps nothing alive.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => void stop('launcher gone', false));
  }
}

void main();
