// INGRESS=caddy: Caddy in front of the ingress, with one static configuration (caddy-config.ts) that no deploy ever
// changes. ensure() runs once at the control plane's start and writes the config only when Caddy's differs, so a
// control-plane restart does not reload Caddy either (a Caddy 2.6 reload closes every proxied WebSocket).
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { CaddyAdminClient, CaddyAdminError } from './caddy-admin-client.js';
import { caddyFrontApps, sameJson, type CaddyFrontConfigOptions, type CaddyJson } from './caddy-config.js';

export interface CaddyFrontOptions extends Partial<Omit<CaddyFrontConfigOptions, 'ingressPort' | 'askUrl'>> {
  adminUrl: string;
  ingressPort: number;
  askUrl: string;
  log?: Logger;
  /** Per admin request. */
  timeoutMs?: number;
  /**
   * How long ensure() waits for Caddy's admin API to answer at all (Caddy and the control plane are often started
   * together). Default 10 s; then it fails saying Caddy is not running.
   */
  waitMs?: number;
}

export interface CaddyFront {
  /** The `apps` object Caddy should hold. */
  readonly apps: CaddyJson;
  /** Loads the config unless Caddy already holds it; answers whether it had to (a Caddy reload). */
  ensure(): Promise<{ loaded: boolean }>;
}

export const DEFAULT_GRACE_PERIOD_S = 10;

export function createCaddyFront(opts: CaddyFrontOptions): CaddyFront {
  const log = opts.log?.child({ module: 'caddy-front' });
  const admin = new CaddyAdminClient(opts.adminUrl, opts.timeoutMs);
  const apps = caddyFrontApps({
    ingressPort: opts.ingressPort,
    askUrl: opts.askUrl,
    httpPort: opts.httpPort ?? 80,
    httpsPort: opts.httpsPort ?? 443,
    tls: opts.tls ?? 'acme',
    gracePeriodS: opts.gracePeriodS ?? DEFAULT_GRACE_PERIOD_S,
  });
  async function currentConfig(): Promise<unknown> {
    const deadline = Date.now() + (opts.waitMs ?? 10_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await admin.get('/config/');
      } catch (err) {
        const unreachable = err instanceof CaddyAdminError && err.status === 0;
        if (!unreachable || Date.now() >= deadline) throw err;
        if (attempt === 0) log?.info({ adminUrl: admin.baseUrl }, 'waiting for caddy');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  return {
    apps,
    async ensure() {
      const current = (await currentConfig()) as CaddyJson | null;
      if (current && sameJson(current.apps, apps)) {
        log?.info({ adminUrl: admin.baseUrl }, 'caddy already holds the configuration; not reloaded');
        return { loaded: false };
      }
      // Only `apps` is Cynchro's: admin, logging and storage stay as the operator set them. Setting an object key
      // is the same whether or not it existed, so resending after a reset is harmless.
      if (current) await admin.request('POST', '/config/apps', apps, { idempotent: true });
      else await admin.request('POST', '/config/', { apps }, { idempotent: true });
      log?.info({ adminUrl: admin.baseUrl, ingressPort: opts.ingressPort }, 'caddy configuration loaded');
      return { loaded: true };
    },
  };
}

/** The front as configuration says (INGRESS=caddy), asking `askUrl` (the started TLS ask endpoint). */
export function caddyFrontFromConfig(
  config: Pick<Config, 'caddyAdminUrl' | 'ingressPort' | 'caddyHttpPort' | 'caddyHttpsPort' | 'caddyTls'>,
  askUrl: string,
  log?: Logger,
): CaddyFront {
  return createCaddyFront({
    adminUrl: config.caddyAdminUrl,
    ingressPort: config.ingressPort,
    askUrl,
    httpPort: config.caddyHttpPort,
    httpsPort: config.caddyHttpsPort,
    tls: config.caddyTls,
    log,
  });
}
