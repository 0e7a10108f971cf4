export type { Ingress, IngressRoute, RouteTarget } from './ingress.js';
export { IngressError } from './ingress.js';
export { createEmbeddedIngress, type EmbeddedIngress, type EmbeddedIngressOptions } from './embedded-ingress.js';
export { createCaddyFront, type CaddyFront, type CaddyFrontOptions } from './caddy-front.js';
export { createTlsAskServer, type TlsAskServer } from './tls-ask-server.js';
export { CaddyAdminError } from './caddy-admin-client.js';
export { createIngress } from './create-ingress.js';
export { createIngressClient, type IngressClient, type IngressClientOptions } from './ingress-client.js';
