// Picks the ingress from configuration (INGRESS, INGRESS_PORT, CADDY_ADMIN_URL); nothing else needs to know which.
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { createCaddyIngress } from './caddy-ingress.js';
import { createEmbeddedIngress } from './embedded-ingress.js';
import type { Ingress } from './ingress.js';

export function createIngress(config: Pick<Config, 'ingress' | 'ingressPort' | 'caddyAdminUrl'>, log?: Logger): Ingress {
  return config.ingress === 'caddy'
    ? createCaddyIngress({ adminUrl: config.caddyAdminUrl, log })
    : createEmbeddedIngress({ port: config.ingressPort, log });
}
