export type { Ingress, IngressRoute, RouteTarget } from './ingress.js';
export { IngressError } from './ingress.js';
export { createEmbeddedIngress, type EmbeddedIngress, type EmbeddedIngressOptions } from './embedded-ingress.js';
export { createCaddyIngress, type CaddyIngress, type CaddyIngressOptions } from './caddy-ingress.js';
export { CaddyAdminError } from './caddy-admin-client.js';
export { createIngress } from './create-ingress.js';
