// Picks the ingress from configuration (INGRESS, INGRESS_PROCESS, INGRESS_PORT, INGRESS_HOST); nothing else needs
// to know which.
//
// INGRESS_PROCESS=separate (the default): the ingress is its own process (ingress-main.ts) that outlives the control
// plane, reached over its control channel (ingress-client.ts). INGRESS_PROCESS=inprocess: the embedded proxy inside
// the control plane (the test harness's default).
// INGRESS=caddy: either way Caddy (caddy-front.ts) proxies every host to the ingress on loopback; only its
// X-Forwarded-* are believed, and browsers open the apps over Caddy's HTTPS.
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { caddyAppUrl } from './caddy-config.js';
import { createEmbeddedIngress } from './embedded-ingress.js';
import { createIngressClient } from './ingress-client.js';
import { defaultIngressHost, trustedProxiesFor } from './ingress-files.js';
import { normalizeDomain, type Ingress } from './ingress.js';

export type IngressConfig = Pick<Config, 'ingress' | 'ingressPort' | 'caddyAdminUrl'> &
  Partial<Pick<Config, 'ingressProcess' | 'ingressHost' | 'dataDir' | 'logLevel' | 'caddyHttpsPort'>>;

export function createIngress(config: IngressConfig, log?: Logger): Ingress {
  const host = config.ingressHost ?? defaultIngressHost(config.ingress);
  const httpsPort = config.caddyHttpsPort ?? 443;
  const caddyUrl = (d: string) => caddyAppUrl(normalizeDomain(d), httpsPort);
  if (config.ingressProcess === 'separate') {
    if (!config.dataDir) throw new Error('INGRESS_PROCESS=separate needs DATA_DIR');
    return createIngressClient({
      dataDir: config.dataDir,
      kind: config.ingress,
      port: config.ingressPort,
      host,
      logLevel: config.logLevel,
      log,
      ...(config.ingress === 'caddy' ? { urlFor: caddyUrl } : {}),
    });
  }
  const inner = createEmbeddedIngress({ port: config.ingressPort, host, trustedProxies: trustedProxiesFor(config.ingress), log });
  if (config.ingress !== 'caddy') return inner;
  return {
    kind: 'caddy',
    start: () => inner.start(),
    stop: () => inner.stop(),
    setRoute: (r) => inner.setRoute(r),
    removeRoute: (d) => inner.removeRoute(d),
    replaceAll: (r) => inner.replaceAll(r),
    routes: () => inner.routes(),
    urlFor: caddyUrl,
  };
}
